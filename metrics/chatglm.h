/* qlora-tools: ISC license. */
/*
 * One sample of ChatGLM-6B ptuning/main.py compute_metrics: jieba.cut both texts, rouge_chinese
 * F of rouge-1/2/l on the space-joined tokens, character BLEU-4 (nltk, method3) on the raw
 * texts, each round(v * 100, 4). Reference: reference.md 9.1, 9.2.
 */
#ifndef QT_METRICS_CHATGLM_H
#define QT_METRICS_CHATGLM_H

#include <stddef.h>

#include "metrics/bleu.h"
#include "metrics/jieba.h"
#include "metrics/rouge.h"

/* What an empty side (no non-whitespace character) does to ROUGE. BLEU is always computed. */
enum chatglm_empty {
	CHATGLM_EMPTY_ZERO,   /* LLaMA-Factory: either side empty → rouge f = 0.0 (default) */
	CHATGLM_EMPTY_HYP,    /* hiyouga 2023-04-24: empty prediction → 0.0; empty label fails */
	CHATGLM_EMPTY_ERROR,  /* THUDM: either side empty fails (rouge_chinese raises) */
};

enum chatglm_fail {
	CHATGLM_FAIL_NONE = 0,
	CHATGLM_FAIL_HYP_EMPTY,  /* rouge_chinese: ValueError("Hypothesis is empty.") */
	CHATGLM_FAIL_REF_EMPTY,  /* rouge_chinese: ValueError("Reference is empty.") */
	CHATGLM_FAIL_NOMEM,
};

struct chatglm_sample {
	double rouge1, rouge2, rougel, bleu4;  /* round(x * 100, 4) */
	int    fail;                            /* enum chatglm_fail */
};

struct chatglm_scratch {
	struct jieba_scratch js;
	struct jieba_tokens  th, tr;
	struct rouge_scratch rs;
	struct bleu_scratch  bs;
	uint32_t            *cp;
	size_t               cp_cap;
};
void chatglm_scratch_free(struct chatglm_scratch *s);

/*
 * Scores pred[0..np) against label[0..nl) (valid UTF-8). j == NULL scores characters instead
 * of words (tokens = code points). Fills out (out->fail != 0: the scores are not set).
 */
void chatglm_score(const struct jieba *j, enum chatglm_empty empty, const char *pred, size_t np,
                   const char *label, size_t nl, struct chatglm_scratch *s,
                   struct chatglm_sample *out);

/* Code-point tokens (--char mode): token ends after each character. -1 on no memory. */
int chatglm_char_tokens(const char *s, size_t n, struct jieba_tokens *out);

#endif
