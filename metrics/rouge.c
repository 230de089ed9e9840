/* qlora-tools: ISC license. */
/*
 * rouge_chinese 1.0.3 (rouge.py Rouge.cut_sent/_get_scores, rouge_score.py rouge_n and
 * rouge_l_summary_level) on code points. Word identity is exact string equality (interned ids).
 */
#include "metrics/rouge.h"

#include <stdlib.h>
#include <string.h>

#include "metrics/jieba.h"

#define CH_FULLSTOP 0x3002u /* 。 */
#define CH_EXCLAIM  0xFF01u /* ！ */
#define CH_QUESTION 0xFF1Fu /* ？ */
#define CH_COMMA    0xFF0Cu /* ， */
#define CH_RDQUOTE  0x201Du /* ” */
#define CH_RSQUOTE  0x2019u /* ’ */
#define CH_ELLIPSIS 0x2026u /* … */

static int grow(void **p, size_t *cap, size_t want, size_t elem)
{
	if (want <= *cap)
		return 0;
	size_t nc = want + want / 2 + 16;
	void *q = realloc(*p, nc * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = nc;
	return 0;
}

static void words_free(struct rouge_words *w)
{
	free(w->buf);
	free(w->tmp);
	free(w->ws);
	free(w->wl);
}

void rouge_scratch_free(struct rouge_scratch *s)
{
	words_free(&s->hyp);
	words_free(&s->ref);
	free(s->id);
	free(s->tab);
	free(s->keys);
	free(s->row);
	free(s->mark);
	memset(s, 0, sizeof *s);
}

/* ---- cut_sent ---- */

static int is_stop(uint32_t c)
{
	return c == CH_FULLSTOP || c == CH_EXCLAIM || c == CH_QUESTION || c == '?';
}

static int is_quote(uint32_t c) { return c == CH_RDQUOTE || c == CH_RSQUOTE; }

/*
 * One re.sub(pattern, r"\1\n\2") pass; pattern k (1..4) as in cut_sent. A match is tried at each
 * position left to right and consumes its characters, so the scan resumes after group 2.
 */
static size_t sub_pass(int k, const uint32_t *s, size_t n, uint32_t *d)
{
	size_t o = 0, i = 0;
	while (i < n) {
		size_t g1 = 0; /* length of group 1 when a match starts at i */
		if (k == 1) {
			if (is_stop(s[i]) && i + 1 < n && !is_quote(s[i + 1]))
				g1 = 1;
		} else if (k == 2) {
			if (i + 6 < n) {
				g1 = 6;
				for (size_t t = 0; t < 6; t++)
					if (s[i + t] != '.')
						g1 = 0;
				if (g1 && is_quote(s[i + 6]))
					g1 = 0;
			}
		} else if (k == 3) {
			if (i + 2 < n && s[i] == CH_ELLIPSIS && s[i + 1] == CH_ELLIPSIS &&
			    !is_quote(s[i + 2]))
				g1 = 2;
		} else {
			if (i + 2 < n && is_stop(s[i]) && is_quote(s[i + 1]) && !is_stop(s[i + 2]) &&
			    s[i + 2] != CH_COMMA)
				g1 = 2;
		}
		if (!g1) {
			d[o++] = s[i++];
			continue;
		}
		for (size_t t = 0; t < g1; t++)
			d[o++] = s[i++];
		d[o++] = '\n';
		d[o++] = s[i++];
	}
	return o;
}

static int word_push(struct rouge_words *w, size_t start, size_t len)
{
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 64;
		uint32_t *a = realloc(w->ws, nc * sizeof *a);
		if (a)
			w->ws = a;
		uint32_t *b = realloc(w->wl, nc * sizeof *b);
		if (b)
			w->wl = b;
		if (!a || !b)
			return -1;
		w->cap = nc;
	}
	w->ws[w->n] = (uint32_t)start;
	w->wl[w->n] = (uint32_t)len;
	w->n++;
	return 0;
}

int rouge_words_build(struct rouge_words *w, const char *text, size_t n, const size_t *tok_end,
                      size_t n_tok)
{
	/* each pass adds at most one '\n' per 2 characters consumed: 4x is ample */
	size_t need = 4 * (n + n_tok) + 16;
	size_t cap0 = w->buf_cap;
	if (grow((void **)&w->buf, &w->buf_cap, need, sizeof *w->buf))
		return -1;
	if (w->buf_cap != cap0) {
		uint32_t *t = realloc(w->tmp, w->buf_cap * sizeof *t);
		if (!t)
			return -1;
		w->tmp = t;
	}
	/* ' '.join(tokens) */
	const unsigned char *u = (const unsigned char *)text;
	size_t L = 0, tk = 0;
	for (size_t i = 0; i < n;) {
		while (tk < n_tok && tok_end[tk] <= i) {
			if (i > 0 && tok_end[tk] == i)
				w->tmp[L++] = ' ';
			tk++;
		}
		i += (size_t)jieba_utf8_next(u + i, &w->tmp[L++]);
	}
	uint32_t *a = w->tmp, *b = w->buf;
	for (int k = 1; k <= 4; k++) {
		L = sub_pass(k, a, L, b);
		uint32_t *t = a;
		a = b;
		b = t;
	}
	if (a != w->buf) {
		memcpy(w->buf, a, L * sizeof *a);
	}
	const uint32_t *s = w->buf;
	while (L > 0 && jieba_is_space(s[L - 1]))
		L--; /* rstrip() */
	w->n = 0;
	w->n_pieces = 0;
	for (size_t i = 0; i <= L;) {
		size_t e = i;
		while (e < L && s[e] != '\n')
			e++;
		if (e > i) { /* split("\n") pieces of length > 0 */
			w->n_pieces++;
			size_t before = w->n;
			for (size_t p = i; p < e;) {
				while (p < e && jieba_is_space(s[p]))
					p++;
				if (p == e)
					break;
				size_t q = p;
				while (q < e && !jieba_is_space(s[q]))
					q++;
				if (word_push(w, p, q - p))
					return -1;
				p = q;
			}
			if (w->n == before) { /* " ".join([]) == "" → the single word "" */
				if (word_push(w, i, 0))
					return -1;
			}
		}
		i = e + 1;
	}
	return 0;
}

/* ---- scores ---- */

static uint64_t word_hash(const uint32_t *p, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001B3ull;
	return h ^ h >> 29;
}

/* Word k of the concatenation hyp words ++ ref words. */
static void word_at(const struct rouge_scratch *s, size_t k, const uint32_t **p, size_t *n)
{
	const struct rouge_words *w = k < s->hyp.n ? &s->hyp : &s->ref;
	size_t i = k < s->hyp.n ? k : k - s->hyp.n;
	*p = w->buf + w->ws[i];
	*n = w->wl[i];
}

/* Gives every word an id (equal strings, equal ids); returns the number of distinct words. */
static int intern(struct rouge_scratch *s, size_t total, uint32_t *n_ids)
{
	size_t tcap = 16;
	while (tcap < total * 2)
		tcap *= 2;
	if (grow((void **)&s->id, &s->id_cap, total, sizeof *s->id) ||
	    grow((void **)&s->tab, &s->tab_cap, tcap, sizeof *s->tab))
		return -1;
	memset(s->tab, 0, tcap * sizeof *s->tab);
	/* tab holds word index + 1 of each id's first occurrence; ids live in id[] */
	uint32_t next = 0;
	for (size_t k = 0; k < total; k++) {
		const uint32_t *p, *q;
		size_t n, m;
		word_at(s, k, &p, &n);
		size_t slot = word_hash(p, n) & (tcap - 1);
		for (;; slot = (slot + 1) & (tcap - 1)) {
			uint32_t t = s->tab[slot];
			if (!t) {
				s->tab[slot] = (uint32_t)k + 1;
				s->id[k] = next++;
				break;
			}
			word_at(s, t - 1, &q, &m);
			if (m == n && memcmp(p, q, n * sizeof *p) == 0) {
				s->id[k] = s->id[t - 1];
				break;
			}
		}
	}
	*n_ids = next;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static size_t sort_unique(uint64_t *k, size_t n)
{
	if (n == 0)
		return 0;
	qsort(k, n, sizeof *k, cmp_u64);
	size_t o = 1;
	for (size_t i = 1; i < n; i++)
		if (k[i] != k[o - 1])
			k[o++] = k[i];
	return o;
}

/* f_r_p_rouge_n / rouge_l_summary_level: p = o/h, r = o/g (0.0 for an empty set) */
static double f_score(size_t overlap, size_t n_hyp, size_t n_ref)
{
	double p = n_hyp ? (double)overlap / (double)n_hyp : 0.0;
	double r = n_ref ? (double)overlap / (double)n_ref : 0.0;
	return 2.0 * ((p * r) / (p + r + 1e-8));
}

int rouge_score(struct rouge_scratch *s, double f[3])
{
	size_t nh = s->hyp.n, nr = s->ref.n, total = nh + nr;
	uint32_t n_ids;
	if (intern(s, total, &n_ids))
		return -1;
	const uint32_t *ih = s->id, *ir = s->id + nh;
	/* rouge-1: set sizes and intersection via marks (bit 0 hyp, bit 1 ref) */
	if (grow((void **)&s->mark, &s->mark_cap, n_ids, 1))
		return -1;
	memset(s->mark, 0, n_ids);
	for (size_t i = 0; i < nh; i++)
		s->mark[ih[i]] |= 1;
	for (size_t i = 0; i < nr; i++)
		s->mark[ir[i]] |= 2;
	size_t gh = 0, gr = 0, ov = 0;
	for (uint32_t i = 0; i < n_ids; i++) {
		gh += s->mark[i] & 1;
		gr += s->mark[i] >> 1;
		ov += s->mark[i] == 3;
	}
	f[0] = f_score(ov, gh, gr);
	/* rouge-2: distinct bigram sets */
	size_t bh = nh > 1 ? nh - 1 : 0, br = nr > 1 ? nr - 1 : 0;
	if (grow((void **)&s->keys, &s->keys_cap, bh + br + 1, sizeof *s->keys))
		return -1;
	uint64_t *kh = s->keys, *kr = s->keys + bh;
	for (size_t i = 0; i < bh; i++)
		kh[i] = (uint64_t)ih[i] << 32 | ih[i + 1];
	for (size_t i = 0; i < br; i++)
		kr[i] = (uint64_t)ir[i] << 32 | ir[i + 1];
	gh = sort_unique(kh, bh);
	gr = sort_unique(kr, br);
	ov = 0;
	for (size_t i = 0, j = 0; i < gh && j < gr;) {
		if (kh[i] < kr[j])
			i++;
		else if (kh[i] > kr[j])
			j++;
		else
			ov++, i++, j++;
	}
	f[1] = f_score(ov, gh, gr);
	/* rouge-l: LCS of the full word lists; p = llcs/len(hyp), r = llcs/len(ref) */
	if (grow((void **)&s->row, &s->row_cap, nh + 1, sizeof *s->row))
		return -1;
	uint32_t *row = s->row;
	memset(row, 0, (nh + 1) * sizeof *row);
	for (size_t i = 0; i < nr; i++) {
		uint32_t diag = 0, x = ir[i];
		for (size_t j = 0; j < nh; j++) {
			uint32_t up = row[j + 1];
			row[j + 1] = ih[j] == x ? diag + 1 : (up > row[j] ? up : row[j]);
			diag = up;
		}
	}
	f[2] = f_score(row[nh], nh, nr);
	return 0;
}
