/* qlora-tools: ISC license. */
/* ChatGLM compute_metrics for one (prediction, label) pair; see chatglm.h. */
#include "metrics/chatglm.h"

#include <stdlib.h>
#include <string.h>

#include "common/pyfloat.h"

void chatglm_scratch_free(struct chatglm_scratch *s)
{
	jieba_scratch_free(&s->js);
	jieba_tokens_free(&s->th);
	jieba_tokens_free(&s->tr);
	rouge_scratch_free(&s->rs);
	bleu_scratch_free(&s->bs);
	free(s->cp);
	memset(s, 0, sizeof *s);
}

int chatglm_char_tokens(const char *s, size_t n, struct jieba_tokens *out)
{
	out->n = 0;
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		uint32_t c;
		i += (size_t)jieba_utf8_next(u + i, &c);
		if (out->n == out->cap) {
			size_t nc = out->cap ? out->cap * 2 : 256;
			size_t *p = realloc(out->end, nc * sizeof *p);
			if (!p)
				return -1;
			out->end = p;
			out->cap = nc;
		}
		out->end[out->n++] = i;
	}
	return 0;
}

static int to_cps(struct chatglm_scratch *s, size_t off, const char *t, size_t n, size_t *len)
{
	if (off + n + 1 > s->cp_cap) {
		size_t nc = (off + n + 1) * 2;
		uint32_t *p = realloc(s->cp, nc * sizeof *p);
		if (!p)
			return -1;
		s->cp = p;
		s->cp_cap = nc;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; m++)
		i += (size_t)jieba_utf8_next((const unsigned char *)t + i, &s->cp[off + m]);
	*len = m;
	return 0;
}

void chatglm_score(const struct jieba *j, enum chatglm_empty empty, const char *pred, size_t np,
                   const char *label, size_t nl, struct chatglm_scratch *s,
                   struct chatglm_sample *out)
{
	memset(out, 0, sizeof *out);
	int bad = j ? jieba_cut(j, pred, np, &s->th, &s->js) || jieba_cut(j, label, nl, &s->tr, &s->js)
	            : chatglm_char_tokens(pred, np, &s->th) || chatglm_char_tokens(label, nl, &s->tr);
	if (bad || rouge_words_build(&s->rs.hyp, pred, np, s->th.end, s->th.n) ||
	    rouge_words_build(&s->rs.ref, label, nl, s->tr.end, s->tr.n)) {
		out->fail = CHATGLM_FAIL_NOMEM;
		return;
	}
	/* no kept sentence <=> no non-whitespace character <=> len(" ".join(t).split()) == 0 */
	int eh = s->rs.hyp.n_pieces == 0, er = s->rs.ref.n_pieces == 0;
	if (empty == CHATGLM_EMPTY_ERROR && eh) {
		out->fail = CHATGLM_FAIL_HYP_EMPTY;
		return;
	}
	if (empty != CHATGLM_EMPTY_ZERO && er && !(empty == CHATGLM_EMPTY_HYP && eh)) {
		out->fail = CHATGLM_FAIL_REF_EMPTY;
		return;
	}
	double f[3] = { 0.0, 0.0, 0.0 };
	if (!eh && !er && rouge_score(&s->rs, f)) {
		out->fail = CHATGLM_FAIL_NOMEM;
		return;
	}
	out->rouge1 = py_round4(f[0] * 100);
	out->rouge2 = py_round4(f[1] * 100);
	out->rougel = py_round4(f[2] * 100);
	size_t lh, lr;
	int oom = 0;
	if (to_cps(s, 0, pred, np, &lh) || to_cps(s, lh, label, nl, &lr)) {
		out->fail = CHATGLM_FAIL_NOMEM;
		return;
	}
	double b = bleu_sentence(s->cp, lh, s->cp + lh, lr, &s->bs, NULL, &oom);
	if (oom) {
		out->fail = CHATGLM_FAIL_NOMEM;
		return;
	}
	out->bleu4 = py_round4(b * 100);
}
