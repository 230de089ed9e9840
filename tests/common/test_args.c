/* qlora-tools: ISC license. */
/* common/args: qt_parse_size's suffixes, limits and refusals. */
#include "common/args.h"

#include "test.h"

int main(void)
{
	struct { const char *s; int64_t v; } ok[] = {
		{ "0", 0 }, { "1", 1 }, { "512", 512 }, { "4K", 4096 }, { "3M", 3 << 20 },
		{ "2G", 2LL << 30 }, { "1T", 1LL << 40 }, { "4611686018427387904", 1LL << 62 },
		{ "4194304T", 1LL << 62 },
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		int64_t v = -1;
		CHECK(qt_parse_size(ok[i].s, &v) == 0 && v == ok[i].v, "\"%s\": %lld", ok[i].s,
		      (long long)v);
	}
	const char *bad[] = { "", "K", "-1", " 1", "+1", "1.5G", "1KB", "1k", "2X", "1G ",
	                      "4611686018427387905", "4194305T", "99999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int64_t v = 7;
		CHECK(qt_parse_size(bad[i], &v) != 0 && v == 7, "\"%s\" accepted", bad[i]);
	}
	return test_main_end();
}
