/* qlora-tools: ISC license. */
/* Fuzz harness: rouge-zh's scoring of one pair (metrics/: jieba segmentation with the default
 * dictionary or characters, ROUGE-1/2/L, BLEU-4). The first byte picks word or character mode
 * and the empty-text rule; the rest is "prediction\nlabel". */
#include "common/jsonl.h"
#include "fuzz/fuzz.h"
#include "metrics/chatglm.h"
#include "metrics/jieba.h"

static struct jieba *jb;
static struct chatglm_scratch scratch;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	struct qt_err err;
	if (!(jb = jieba_load(NULL, NULL, &err))) {
		fprintf(stderr, "fuzz_rouge: %s\n", err.msg);
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!jb)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	const uint8_t *a, *b;
	size_t na, nb;
	fuzz_split(data + 1, size - 1, '\n', &a, &na, &b, &nb);
	if (!qt_utf8_valid((const char *)a, na, NULL) || !qt_utf8_valid((const char *)b, nb, NULL))
		return 0;
	struct chatglm_sample out;
	chatglm_score((data[0] & 1) ? NULL : jb, (enum chatglm_empty)((data[0] >> 1) % 3),
	              (const char *)a, na, (const char *)b, nb, &scratch, &out);
	return 0;
}
