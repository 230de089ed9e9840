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

struct key {
	uint64_t a, b;
};

static int cmp_key(const void *x, const void *y)
{
	const struct key *p = x, *q = y;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return p->b < q->b ? -1 : p->b > q->b;
}

/* n-grams of s as sortable keys (code points < 2^21: three in a, the fourth in b) */
static size_t make_keys(const uint32_t *s, size_t len, int n, struct key *k)
{
	if (len < (size_t)n)
		return 0;
	size_t c = len - (size_t)n + 1;
	for (size_t i = 0; i < c; i++) {
		uint64_t a = 0;
		for (int t = 0; t < n && t < 3; t++)
			a |= (uint64_t)s[i + (size_t)t] << (21 * t);
		k[i].a = a;
		k[i].b = n == 4 ? s[i + 3] : 0;
	}
	qsort(k, c, sizeof *k, cmp_key);
	return c;
}

double bleu_sentence(const uint32_t *hyp, size_t nh, const uint32_t *ref, size_t nr,
                     struct bleu_scratch *s, struct bleu_detail *d, int *oom)
{
	struct bleu_detail dd;
	if (!d)
		d = &dd;
	size_t need = 2 * (nh + nr + 2);
	if (need > s->cap) {
		uint64_t *k = realloc(s->k, need * sizeof *k);
		if (!k) {
			*oom = 1;
			return 0.0;
		}
		s->k = k;
		s->cap = need;
	}
	struct key *kh = (struct key *)s->k, *kr = kh + nh + 1;
	for (int n = 1; n <= 4; n++) {
		size_t ch = make_keys(hyp, nh, n, kh), cr = make_keys(ref, nr, n, kr);
		uint64_t m = 0;
		/* clipped counts: sum over distinct hyp n-grams of min(count, count in ref) */
		for (size_t i = 0, j = 0; i < ch;) {
			size_t e = i + 1;
			while (e < ch && !cmp_key(&kh[e], &kh[i]))
				e++;
			while (j < cr && cmp_key(&kr[j], &kh[i]) < 0)
				j++;
			size_t f = j;
			while (f < cr && !cmp_key(&kr[f], &kh[i]))
				f++;
			m += (e - i) < (f - j) ? (e - i) : (f - j);
			i = e;
			j = f;
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
