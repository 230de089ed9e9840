/* qlora-tools: ISC license. */
/* Fuzz harness: a jieba dictionary (metrics/jieba_load.c: "word freq [tag]" lines), loaded with
 * the default HMM tables (no cache), then one sentence cut with it. */
#include "fuzz/fuzz.h"
#include "metrics/jieba.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char text[] = "我来到北京清华大学，He said 42 次。";
	setenv("QT_JIEBA_CACHE", "off", 1);
	char path[64];
	int fd;
	if (fuzz_path(data, size, path, &fd))
		return 0;
	struct qt_err err;
	struct jieba *j = jieba_load(path, NULL, &err);
	if (j) {
		struct jieba_scratch s = { 0 };
		struct jieba_tokens t = { 0 };
		jieba_cut(j, text, sizeof text - 1, &t, &s);
		jieba_tokens_free(&t);
		jieba_scratch_free(&s);
		jieba_free(j);
	}
	close(fd);
	return 0;
}
