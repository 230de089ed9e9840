/* qlora-tools: ISC license. */
/*
 * nltk 3.8 sentence_bleu([ref], hyp, smoothing_function=SmoothingFunction().method3) with the
 * default weights (0.25,)*4, on code-point lists (ChatGLM: list(label), list(pred)).
 * Reference: reference.md 9.7.
 */
#ifndef QT_METRICS_BLEU_H
#define QT_METRICS_BLEU_H

#include <stddef.h>
#include <stdint.h>

struct bleu_scratch {
	uint64_t *k;     /* the n-gram count table */
	size_t    cap;
};
void bleu_scratch_free(struct bleu_scratch *s);

/* Counts nltk reports, for tests and the man page's worked example. */
struct bleu_detail {
	uint64_t m[4], d[4];   /* modified precision numerators and (unreduced) denominators */
	uint64_t hyp_len, ref_len;
};

/*
 * BLEU of hyp[0..nh) against ref[0..nr) (code points). Returns the score; when nltk returns the
 * int 0 (no matching unigram) the result is 0.0. d may be NULL. *oom is set to 1 (and 0.0
 * returned) when memory runs out.
 */
double bleu_sentence(const uint32_t *hyp, size_t nh, const uint32_t *ref, size_t nr,
                     struct bleu_scratch *s, struct bleu_detail *d, int *oom);

/* math.fsum: the correctly rounded sum of x[0..n) (Shewchuk partials as CPython). Finite x. */
double bleu_fsum(const double *x, size_t n);

#endif
