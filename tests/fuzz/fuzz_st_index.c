/* qlora-tools: ISC license. */
/* Fuzz harness: a sharded model directory's model.safetensors.index.json
 * (formats/safetensors_index.c), opened with one small valid shard beside it
 * (model-00001-of-00001.safetensors, a copy of tests/data/safetensors/python.safetensors). */
#include "formats/safetensors.h"
#include "fuzz/fuzz.h"

static char dir[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	const char *src = getenv("QT_TEST_SRCDIR") ? getenv("QT_TEST_SRCDIR") : "tests";
	const char *s = fuzz_scratch();
	char p[512];
	snprintf(p, sizeof p, "%s/data/safetensors/python.safetensors", src);
	FILE *f = fopen(p, "rb");
	static uint8_t buf[1 << 20];
	size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
	if (f)
		fclose(f);
	if (!s || !n || fuzz_put(s, "model-00001-of-00001.safetensors", buf, n)) {
		fprintf(stderr, "fuzz_st_index: cannot set up %s\n", s ? s : "a scratch directory");
		exit(1);
	}
	snprintf(dir, sizeof dir, "%s", s);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0])
		LLVMFuzzerInitialize(NULL, NULL);
	if (fuzz_put(dir, ST_INDEX_NAME, data, size))
		return 0;
	struct st_set s;
	struct qt_err err;
	if (st_set_open(&s, dir, &err) == QT_OK) {
		(void)st_set_find(&s, "a");
		st_set_close(&s);
	}
	return 0;
}
