/* qlora-tools: ISC license. */
/*
 * nltk bleu_score.py corpus_bleu for one sentence: modified_precision (clipped counts as
 * unreduced fractions), closest_ref_length, brevity_penalty, SmoothingFunction.method3, and
 * bp * exp(fsum(w * log(p_n))). Same double operations as CPython.
 */
#include "metrics/bleu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bleu_scratch_free(struct bleu_scratch *s)
{
	free(s->k);
	memset(s, 0, sizeof *s);
}

/* CPython mathmodule.c math_fsum for finite inputs: exact partials, then the final rounding
 * with the half-way correction. */
double bleu_fsum(const double *x, size_t n)
{
	double p[64];
	size_t np = 0;
	for (size_t k = 0; k < n; k++) {
		double v = x[k];
		size_t i = 0;
		for (size_t j = 0; j < np; j++) {
			double y = p[j];
			if (fabs(v) < fabs(y)) {
				double t = v;
				v = y;
				y = t;
			}
			double hi = v + y;
			double lo = y - (hi - v);
			if (lo != 0.0)
				p[i++] = lo;
			v = hi;
		}
		np = i;
		if (v != 0.0 && np < 64)
			p[np++] = v;
	}
	double hi = 0.0;
	if (np > 0) {
		size_t i = np;
		hi = p[--i];
		double lo = 0.0;
		while (i > 0) {
			double v = hi;
			double y = p[--i];
			hi = v + y;
			double yr = hi - v;
			lo = y - yr;
			if (lo != 0.0)
				break;
		}
		if (i > 0 && ((lo < 0.0 && p[i - 1] < 0.0) || (lo > 0.0 && p[i - 1] > 0.0))) {
			double y = lo * 2.0;
			double v = hi + y;
			double yr = v - hi;
			if (y == yr)
				hi = v;
		}
	}
	return hi;
}

/* One distinct hyp n-gram: code points < 2^21, three in a, the fourth in b; its count in the
 * hypothesis and how many of its reference occurrences have been matched so far. */
struct slot {
	uint64_t a, b;
	uint32_t ch, cr;
};

static void gram(const uint32_t *s, int n, uint64_t *a, uint64_t *b)
{
	uint64_t x = 0;
	for (int t = 0; t < n && t < 3; t++)
		x |= (uint64_t)s[t] << (21 * t);
	*a = x;
	*b = n == 4 ? s[3] : 0;
}

static size_t slot_of(const struct slot *tab, size_t mask, uint64_t a, uint64_t b)
{
	size_t i = (size_t)(((a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full)) >> 20) & mask;
	while (tab[i].ch && (tab[i].a != a || tab[i].b != b))
		i = (i + 1) & mask;
	return i;
}

double bleu_sentence(const uint32_t *hyp, size_t nh, const uint32_t *ref, size_t nr,
                     struct bleu_scratch *s, struct bleu_detail *d, int *oom)
{
	struct bleu_detail dd;
	if (!d)
		d = &dd;
	size_t cap = 16;
	while (cap < 2 * nh)
		cap *= 2;
	size_t need = cap * sizeof(struct slot) / sizeof *s->k;
	if (need > s->cap) {
		uint64_t *k = realloc(s->k, need * sizeof *k);
		if (!k) {
			*oom = 1;
			return 0.0;
		}
		s->k = k;
		s->cap = need;
	}
	struct slot *tab = (struct slot *)s->k;
	for (int n = 1; n <= 4; n++) {
		/* clipped counts: each reference occurrence matches while the hyp count lasts, so
		 * m = sum over distinct hyp n-grams of min(count in hyp, count in ref) */
		memset(tab, 0, cap * sizeof *tab);
		size_t ch = nh >= (size_t)n ? nh - (size_t)n + 1 : 0;
		size_t cr = nr >= (size_t)n ? nr - (size_t)n + 1 : 0;
		uint64_t a, b, m = 0;
		for (size_t i = 0; i < ch; i++) {
			gram(hyp + i, n, &a, &b);
			size_t k = slot_of(tab, cap - 1, a, b);
			tab[k].a = a;
			tab[k].b = b;
			tab[k].ch++;
		}
		for (size_t i = 0; ch && i < cr; i++) {
			gram(ref + i, n, &a, &b);
			size_t k = slot_of(tab, cap - 1, a, b);
			if (tab[k].ch && tab[k].cr < tab[k].ch) {
				tab[k].cr++;
				m++;
			}
		}
		d->m[n - 1] = m;
		d->d[n - 1] = ch > 1 ? ch : 1; /* max(1, sum(counts)) */
	}
	d->hyp_len = nh;
	d->ref_len = nr;
	if (d->m[0] == 0)
		return 0.0; /* nltk returns the int 0 */
	double t[4];
	for (int n = 0, k = 1; n < 4; n++) {
		double p;
		if (d->m[n] == 0) {
			p = 1.0 / (double)(((uint64_t)1 << k) * d->d[n]); /* 1 / (2**k * denominator) */
			k++;
		} else {
			p = (double)d->m[n] / (double)d->d[n];
		}
		t[n] = 0.25 * log(p);
	}
	/* brevity_penalty(closest_ref_len, hyp_len); hyp_len > 0 here */
	double bp = nh > nr ? 1.0 : exp(1.0 - (double)nr / (double)nh);
	return bp * exp(bleu_fsum(t, 4));
}
