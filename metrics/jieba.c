/* qlora-tools: ISC license. */
/*
 * jieba.cut(s) in default mode with HMM, exactly (jieba 0.42.1 __init__.py Tokenizer.cut,
 * get_DAG, calc, __cut_DAG; finalseg/__init__.py cut, __cut, viterbi). All arithmetic is the
 * same sequence of double operations as CPython's, including max()'s tie rules on tuples.
 * Loading the data files is in jieba_load.c.
 */
#include "metrics/jieba_impl.h"

#include <stdlib.h>
#include <string.h>

int jieba_utf8_next(const unsigned char *s, uint32_t *cp)
{
	unsigned c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xE0) {
		*cp = (c & 0x1Fu) << 6 | (s[1] & 0x3Fu);
		return 2;
	}
	if (c < 0xF0) {
		*cp = (c & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
		return 3;
	}
	*cp = (c & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
	return 4;
}

int jieba_is_space(uint32_t c)
{
	if (c < 0x80)
		return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
	return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* re_han_default = [\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-] */
static int is_han_default(uint32_t c)
{
	if (c >= JIEBA_HAN_LO && c <= JIEBA_HAN_HI)
		return 1;
	if (c >= 0x80)
		return 0;
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '#' || c == '&' || c == '.' || c == '_' || c == '%' || c == '-';
}

static int is_alnum(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void jieba_scratch_free(struct jieba_scratch *s)
{
	free(s->cp);
	free(s->off);
	free(s->rv);
	free(s->rx);
	free(s->v);
	free(s->bp);
	memset(s, 0, sizeof *s);
}

void jieba_tokens_free(struct jieba_tokens *t)
{
	free(t->end);
	memset(t, 0, sizeof *t);
}

/* ---- output ---- */

struct cutter {
	const struct jieba   *j;
	struct jieba_scratch *sc;
	struct jieba_tokens  *out;
	int                   oom;
};

/* Emits the token ending before code point index e (its start is the previous end). */
static void emit_to(struct cutter *c, size_t e)
{
	struct jieba_tokens *t = c->out;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 256;
		size_t *p = realloc(t->end, nc * sizeof *p);
		if (!p) {
			c->oom = 1;
			return;
		}
		t->end = p;
		t->cap = nc;
	}
	t->end[t->n++] = c->sc->off[e];
}

/* ---- finalseg ---- */

/*
 * finalseg.__cut on cp[a..b) (all in re_han): Viterbi over B/E/M/S, then B starts a word, E ends
 * it, S is a word alone. V[t][y] = max over y0 in PrevStatus[y] of
 * ((V[t-1][y0] + trans[y0][y]) + emit[y][c], y0); ties go to the larger state letter.
 */
static void hmm_cut(struct cutter *c, size_t a, size_t b)
{
	static const int prev[4][2] = { [JB] = { JE, JS }, [JE] = { JB, JM },
	                                [JM] = { JM, JB }, [JS] = { JS, JE } };
	const struct jieba *j = c->j;
	struct jieba_scratch *sc = c->sc;
	size_t n = b - a;
	if (n > sc->vcap) {
		double *v = realloc(sc->v, n * 4 * sizeof *v);
		if (v)
			sc->v = v;
		uint8_t *bp = realloc(sc->bp, n * 4);
		if (bp)
			sc->bp = bp;
		if (!v || !bp) {
			c->oom = 1;
			return;
		}
		sc->vcap = n;
	}
	double *V = sc->v;
	uint8_t *bp = sc->bp;
	const double *em = j->emit + (size_t)(sc->cp[a] - JIEBA_HAN_LO) * 4;
	for (int y = 0; y < 4; y++)
		V[y] = j->start[y] + em[y];
	for (size_t t = 1; t < n; t++) {
		em = j->emit + (size_t)(sc->cp[a + t] - JIEBA_HAN_LO) * 4;
		for (int y = 0; y < 4; y++) {
			int y0 = prev[y][0], y1 = prev[y][1];
			double p0 = V[(t - 1) * 4 + y0] + j->trans[y0][y] + em[y];
			double p1 = V[(t - 1) * 4 + y1] + j->trans[y1][y] + em[y];
			/* tuple max: larger prob, then larger letter */
			int w = (p1 > p0 || (p1 == p0 && y1 > y0)) ? y1 : y0;
			V[t * 4 + y] = w == y1 ? p1 : p0;
			bp[t * 4 + y] = (uint8_t)w;
		}
	}
	double pe = V[(n - 1) * 4 + JE], ps = V[(n - 1) * 4 + JS];
	int st = ps >= pe ? JS : JE;
	/* back-track the path into bp[t*4 + 0] (reusing column 0 as the path) */
	for (size_t t = n; t-- > 0;) {
		int prv = t > 0 ? bp[t * 4 + st] : 0;
		bp[t * 4] = (uint8_t)st;
		st = prv;
	}
	size_t nexti = 0;
	for (size_t i = 0; i < n; i++) {
		int s = bp[i * 4];
		if (s == JE || s == JS) {
			emit_to(c, a + i + 1);
			nexti = i + 1;
		}
	}
	if (nexti < n)
		emit_to(c, b);
}

/* finalseg.cut(buf) for buf = cp[a..b): re_han runs to the HMM; the rest split by re_skip. */
static void finalseg_cut(struct cutter *c, size_t a, size_t b)
{
	const uint32_t *cp = c->sc->cp;
	size_t i = a;
	while (i < b) {
		size_t e = i;
		if (cp[i] >= JIEBA_HAN_LO && cp[i] <= JIEBA_HAN_HI) {
			while (e < b && cp[e] >= JIEBA_HAN_LO && cp[e] <= JIEBA_HAN_HI)
				e++;
			hmm_cut(c, i, e);
			i = e;
			continue;
		}
		while (e < b && !(cp[e] >= JIEBA_HAN_LO && cp[e] <= JIEBA_HAN_HI))
			e++;
		/* re_skip = ([a-zA-Z0-9]+(?:\.\d+)?%?): matches and non-empty gaps are tokens */
		size_t k = i;
		while (k < e) {
			if (!is_alnum(cp[k])) {
				k++;
				continue;
			}
			if (k > i)
				emit_to(c, k);
			size_t m = k;
			while (m < e && is_alnum(cp[m]))
				m++;
			if (m + 1 < e && cp[m] == '.' && cp[m + 1] >= '0' && cp[m + 1] <= '9') {
				m += 2;
				while (m < e && cp[m] >= '0' && cp[m] <= '9')
					m++;
			}
			if (m < e && cp[m] == '%')
				m++;
			emit_to(c, m);
			i = k = m;
		}
		if (i < e)
			emit_to(c, e);
		i = e;
	}
}

/* ---- one han block ---- */

/* FREQ.get(cp[a..b)) > 0 */
static int is_word(const struct jieba *j, const uint32_t *cp, size_t a, size_t b)
{
	uint32_t node = 0;
	for (size_t i = a; i < b && (node = jieba_child(j, node, cp[i])); i++)
		;
	return node && j->freq[node] > 0;
}

static void flush_buf(struct cutter *c, size_t a, size_t b)
{
	if (b - a == 1) {
		emit_to(c, b);
	} else if (!is_word(c->j, c->sc->cp, a, b)) {
		finalseg_cut(c, a, b);
	} else {
		for (size_t i = a + 1; i <= b; i++)
			emit_to(c, i);
	}
}

/*
 * __cut_DAG on cp[a..b): route[k] = max over DAG ends x of
 * ((log(FREQ) - logtotal) + route[x+1], x), ties to the larger x; then runs of one-character
 * words are gathered and flushed through the HMM. The DAG is walked on the fly from the trie.
 */
static void cut_block(struct cutter *c, size_t a, size_t b)
{
	const struct jieba *j = c->j;
	const uint32_t *cp = c->sc->cp;
	double *rv = c->sc->rv + a;
	int32_t *rx = c->sc->rx + a;
	size_t n = b - a;
	rv[n] = 0.0;
	for (size_t k = n; k-- > 0;) {
		double best = 0.0;
		size_t bx = k;
		int have = 0;
		uint32_t node = jieba_child(j, 0, cp[a + k]);
		for (size_t i = k; node;) {
			if (j->freq[node] > 0) {
				double v = j->logp[node] + rv[i + 1];
				if (!have || v >= best) {
					best = v;
					bx = i;
					have = 1;
				}
			}
			if (++i >= n)
				break;
			node = jieba_child(j, node, cp[a + i]);
		}
		if (!have)
			best = (0.0 - j->logtotal) + rv[k + 1]; /* log(1) - logtotal */
		rv[k] = best;
		rx[k] = (int32_t)bx;
	}
	size_t x = 0, buf = SIZE_MAX;
	while (x < n) {
		size_t y = (size_t)rx[x] + 1;
		if (y - x == 1) {
			if (buf == SIZE_MAX)
				buf = x;
		} else {
			if (buf != SIZE_MAX)
				flush_buf(c, a + buf, a + x);
			buf = SIZE_MAX;
			emit_to(c, a + y);
		}
		x = y;
	}
	if (buf != SIZE_MAX)
		flush_buf(c, a + buf, a + n);
}

/* ---- top level ---- */

static int scratch_fit(struct jieba_scratch *sc, size_t n)
{
	if (n + 1 <= sc->cap)
		return 0;
	size_t nc = n + 1 + n / 2;
	uint32_t *cp = realloc(sc->cp, nc * sizeof *cp);
	if (cp)
		sc->cp = cp;
	uint32_t *off = realloc(sc->off, nc * sizeof *off);
	if (off)
		sc->off = off;
	double *rv = realloc(sc->rv, nc * sizeof *rv);
	if (rv)
		sc->rv = rv;
	int32_t *rx = realloc(sc->rx, nc * sizeof *rx);
	if (rx)
		sc->rx = rx;
	if (!cp || !off || !rv || !rx)
		return -1;
	sc->cap = nc;
	return 0;
}

int jieba_cut(const struct jieba *j, const char *s, size_t n, struct jieba_tokens *out,
              struct jieba_scratch *sc)
{
	out->n = 0;
	if (n > UINT32_MAX - 1 || scratch_fit(sc, n))
		return QT_ESOFTWARE;
	const unsigned char *u = (const unsigned char *)s;
	size_t m = 0;
	for (size_t i = 0; i < n; m++) {
		sc->off[m] = (uint32_t)i;
		i += (size_t)jieba_utf8_next(u + i, &sc->cp[m]);
	}
	sc->off[m] = (uint32_t)n;
	struct cutter c = { j, sc, out, 0 };
	const uint32_t *cp = sc->cp;
	/* re_han_default blocks go to __cut_DAG; elsewhere re_skip_default = (\r\n|\s) and every
	 * other character is its own token */
	for (size_t i = 0; i < m && !c.oom;) {
		if (is_han_default(cp[i])) {
			size_t e = i;
			while (e < m && is_han_default(cp[e]))
				e++;
			cut_block(&c, i, e);
			i = e;
		} else if (cp[i] == '\r' && i + 1 < m && cp[i + 1] == '\n') {
			emit_to(&c, i + 2);
			i += 2;
		} else {
			emit_to(&c, i + 1);
			i++;
		}
	}
	return c.oom ? QT_ESOFTWARE : QT_OK;
}
