/* qlora-tools: ISC license. */
/*
 * Loading jieba's data files: dict.txt into the prefix trie (Tokenizer.gen_pfdict) and the
 * finalseg HMM tables from their Python sources (prob_start.py, prob_trans.py, prob_emit.py,
 * each one dict literal "P={...}"). Segmentation itself is in jieba.c.
 */
#include "metrics/jieba_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "common/jsonl.h"

const char *jieba_default_dir(void)
{
	const char *d = getenv("QT_JIEBA_DIR");
	return d && *d ? d : JIEBA_DIR_DEFAULT;
}

size_t jieba_n_keys(const struct jieba *j) { return j->n_nodes - 1; }
int64_t jieba_total(const struct jieba *j) { return j->total; }

void jieba_free(struct jieba *j)
{
	if (!j)
		return;
	if (j->blob) {
		free(j->blob);
		free(j);
		return;
	}
	free(j->freq);
	free(j->logp);
	free(j->ekey);
	free(j->eval);
	free(j->emit);
	free(j);
}

/* ---- trie building ---- */

static int edges_grow(struct jieba *j)
{
	uint64_t ncap = (j->emask + 1) * 2;
	uint64_t *k = malloc(ncap * sizeof *k);
	uint32_t *v = malloc(ncap * sizeof *v);
	if (!k || !v) {
		free(k);
		free(v);
		return -1;
	}
	memset(k, 0xff, ncap * sizeof *k);
	for (uint64_t i = 0; i <= j->emask; i++) {
		if (j->ekey[i] == JIEBA_EDGE_EMPTY)
			continue;
		uint64_t s = jieba_edge_slot(j->ekey[i], ncap - 1);
		while (k[s] != JIEBA_EDGE_EMPTY)
			s = (s + 1) & (ncap - 1);
		k[s] = j->ekey[i];
		v[s] = j->eval[i];
	}
	free(j->ekey);
	free(j->eval);
	j->ekey = k;
	j->eval = v;
	j->emask = ncap - 1;
	return 0;
}

/* The child of node for c, created (as a prefix key, FREQ 0) when missing; 0 on no memory. */
static uint32_t child_add(struct jieba *j, uint32_t node, uint32_t c)
{
	uint64_t key = (uint64_t)node << 21 | c;
	uint64_t s = jieba_edge_slot(key, j->emask);
	for (; j->ekey[s] != JIEBA_EDGE_EMPTY; s = (s + 1) & j->emask)
		if (j->ekey[s] == key)
			return j->eval[s];
	if (j->n_nodes == j->cap_nodes) {
		uint32_t nc = j->cap_nodes * 2;
		int64_t *f = realloc(j->freq, nc * sizeof *f);
		if (!f)
			return 0;
		j->freq = f;
		j->cap_nodes = nc;
	}
	if ((j->n_edges + 1) * 2 > j->emask + 1) {
		if (edges_grow(j) < 0)
			return 0;
		s = jieba_edge_slot(key, j->emask);
		while (j->ekey[s] != JIEBA_EDGE_EMPTY)
			s = (s + 1) & j->emask;
	}
	uint32_t id = j->n_nodes++;
	j->freq[id] = 0;
	j->ekey[s] = key;
	j->eval[s] = id;
	j->n_edges++;
	return id;
}

static int is_ascii_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * gen_pfdict: per line (split on '\n'), bytes.strip(), UTF-8 decode, split(' ')[:2] → word and
 * int(freq); FREQ[word] = freq, total += freq; every prefix of word gets FREQ 0 unless present.
 * Deviation, for user dictionaries only: freq must be plain decimal digits (Python's int()
 * would also take a sign, underscores and non-ASCII digits).
 */
static int load_dict(struct jieba *j, const char *path, struct qt_err *err)
{
	struct qt_map m;
	int rc = qt_map_file(path, &m, err);
	if (rc)
		return rc;
	const unsigned char *p = m.data, *end = m.data + m.size;
	unsigned long long lineno = 0;
	rc = QT_OK;
	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *le = nl ? nl : end, *a = p, *b = le;
		p = nl ? nl + 1 : end;
		lineno++;
		while (a < b && is_ascii_ws(*a))
			a++;
		while (b > a && is_ascii_ws(b[-1]))
			b--;
		size_t bad;
		if (!qt_utf8_valid((const char *)a, (size_t)(b - a), &bad)) {
			rc = qt_err_set(err, QT_EDATA, "%s:%llu: invalid UTF-8 at byte %zu", path,
			                lineno, bad);
			break;
		}
		const unsigned char *sp = memchr(a, ' ', (size_t)(b - a));
		const unsigned char *f = sp ? sp + 1 : b, *fe = f;
		while (fe < b && *fe != ' ')
			fe++;
		int64_t freq = 0;
		int ok = sp && fe > f;
		for (const unsigned char *q = f; ok && q < fe; q++) {
			if (*q < '0' || *q > '9' || freq > (INT64_MAX - 9) / 10)
				ok = 0;
			else
				freq = freq * 10 + (*q - '0');
		}
		if (!ok || j->total > INT64_MAX - freq) {
			rc = qt_err_set(err, QT_EDATA, "%s:%llu: invalid dictionary entry: %.*s", path,
			                lineno, (int)(b - a > 200 ? 200 : b - a), (const char *)a);
			break;
		}
		uint32_t node = 0;
		for (const unsigned char *q = a; q < sp;) {
			uint32_t c;
			q += jieba_utf8_next(q, &c);
			node = child_add(j, node, c);
			if (!node) {
				rc = qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
				goto out;
			}
		}
		j->freq[node] = freq;
		j->total += freq;
	}
out:
	qt_unmap(&m);
	if (rc == QT_OK && j->total <= 0)
		rc = qt_err_set(err, QT_EDATA, "%s: empty dictionary (total frequency 0)", path);
	return rc;
}

/* ---- HMM tables: a Python dict literal of one-character string keys and float values ---- */

struct pyparse {
	const char *path, *base, *p, *end;
	struct jieba *j;
	int table;      /* 0 start, 1 trans, 2 emit */
	uint32_t key[2];
	int depth;
	struct qt_err *err;
};

static int py_fail(struct pyparse *ps, const char *what)
{
	unsigned long long line = 1;
	for (const char *q = ps->base; q < ps->p && q < ps->end; q++)
		line += *q == '\n';
	return qt_err_set(ps->err, QT_EDATA, "%s:%llu: %s", ps->path, line, what);
}

static void py_ws(struct pyparse *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' ||
	                           *ps->p == '\t'))
		ps->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A quoted string holding exactly one character (plain UTF-8 or a \u / \U / \x escape). */
static int py_char(struct pyparse *ps, uint32_t *out)
{
	char q = *ps->p++;
	uint32_t c = 0;
	int n = 0;
	while (ps->p < ps->end && *ps->p != q) {
		if (*ps->p == '\\' && ps->p + 1 < ps->end) {
			char e = ps->p[1];
			int w = e == 'u' ? 4 : e == 'U' ? 8 : e == 'x' ? 2 : 0;
			if (!w || ps->p + 2 + w > ps->end)
				return py_fail(ps, "unsupported escape in key");
			c = 0;
			for (int i = 0; i < w; i++) {
				int h = hexval(ps->p[2 + i]);
				if (h < 0)
					return py_fail(ps, "bad hex escape in key");
				c = c << 4 | (uint32_t)h;
			}
			ps->p += 2 + w;
		} else {
			size_t bad;
			int len = 1;
			while (ps->p + len < ps->end && ((unsigned char)ps->p[len] & 0xC0) == 0x80 && len < 4)
				len++;
			if (!qt_utf8_valid(ps->p, (size_t)len, &bad))
				return py_fail(ps, "invalid UTF-8 in key");
			ps->p += jieba_utf8_next((const unsigned char *)ps->p, &c);
		}
		n++;
	}
	if (ps->p >= ps->end)
		return py_fail(ps, "unterminated string");
	ps->p++;
	if (n != 1 || c > 0x10FFFF)
		return py_fail(ps, "key is not one character");
	*out = c;
	return QT_OK;
}

static int state_of(uint32_t c)
{
	return c == 'B' ? JB : c == 'E' ? JE : c == 'M' ? JM : c == 'S' ? JS : -1;
}

static int py_store(struct pyparse *ps, double v)
{
	int want = ps->table == 0 ? 1 : 2;
	if (ps->depth != want)
		return py_fail(ps, "number at the wrong nesting depth");
	int s0 = state_of(ps->key[0]);
	if (s0 < 0)
		return py_fail(ps, "unknown HMM state (expected B, E, M or S)");
	if (ps->table == 0) {
		ps->j->start[s0] = v;
	} else if (ps->table == 1) {
		int s1 = state_of(ps->key[1]);
		if (s1 < 0)
			return py_fail(ps, "unknown HMM state (expected B, E, M or S)");
		ps->j->trans[s0][s1] = v;
	} else if (ps->key[1] >= JIEBA_HAN_LO && ps->key[1] <= JIEBA_HAN_HI) {
		/* finalseg only looks up characters of re_han; others are never used */
		ps->j->emit[(ps->key[1] - JIEBA_HAN_LO) * 4 + (uint32_t)s0] = v;
	}
	return QT_OK;
}

static int py_value(struct pyparse *ps)
{
	py_ws(ps);
	if (ps->p >= ps->end)
		return py_fail(ps, "unexpected end of file");
	if (*ps->p != '{') {
		char buf[64];
		size_t n = 0;
		while (ps->p + n < ps->end && n < sizeof buf - 1 && strchr("+-.0123456789eE", ps->p[n]))
			n++;
		memcpy(buf, ps->p, n);
		buf[n] = 0;
		char *e;
		double v = strtod(buf, &e);
		if (n == 0 || *e)
			return py_fail(ps, "expected a number or '{'");
		ps->p += n;
		return py_store(ps, v);
	}
	ps->p++;
	if (ps->depth >= 2)
		return py_fail(ps, "dict nested too deeply");
	for (;;) {
		py_ws(ps);
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return QT_OK;
		}
		if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
			return py_fail(ps, "expected a string key");
		int rc = py_char(ps, &ps->key[ps->depth]);
		if (rc)
			return rc;
		py_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			return py_fail(ps, "expected ':'");
		ps->p++;
		ps->depth++;
		rc = py_value(ps);
		ps->depth--;
		if (rc)
			return rc;
		py_ws(ps);
		if (ps->p < ps->end && *ps->p == ',')
			ps->p++;
		else if (ps->p >= ps->end || *ps->p != '}')
			return py_fail(ps, "expected ',' or '}'");
	}
}

static int load_table(struct jieba *j, const char *dir, const char *name, int table,
                      struct qt_err *err)
{
	char *path = qt_path_join(dir, name);
	char *buf = NULL;
	size_t len;
	int rc = path ? qt_read_file(path, &buf, &len, err) : qt_err_set(err, QT_ESOFTWARE, "oom");
	if (rc == QT_OK) {
		struct pyparse ps = { .path = path, .base = buf, .p = buf, .end = buf + len, .j = j,
		                      .table = table, .err = err };
		/* the literal follows "P=" at the start of a line */
		const char *q = buf;
		while (q && !(strncmp(q, "P=", 2) == 0 || strncmp(q, "P =", 3) == 0)) {
			q = memchr(q, '\n', (size_t)(buf + len - q));
			q = q ? q + 1 : NULL;
		}
		if (!q) {
			ps.p = ps.end;
			rc = py_fail(&ps, "no line starting with \"P=\"");
		} else {
			ps.p = strchr(q, '=') + 1;
			rc = py_value(&ps);
		}
	}
	free(buf);
	free(path);
	return rc;
}

struct jieba *jieba_load(const char *dict_path, const char *hmm_dir, struct qt_err *err)
{
	const char *dir = jieba_default_dir();
	char *dflt_dict = dict_path ? NULL : qt_path_join(dir, "dict.txt");
	char *dflt_hmm = hmm_dir ? NULL : qt_path_join(dir, "finalseg");
	struct jieba *j = NULL;
	char *cache = NULL;
	uint64_t key = 0;
	int rc = QT_OK;
	if ((!dict_path && !dflt_dict) || (!hmm_dir && !dflt_hmm)) {
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	const char *dp = dict_path ? dict_path : dflt_dict;
	const char *hp = hmm_dir ? hmm_dir : dflt_hmm;
	if ((rc = jieba_cache_key(dp, hp, &key, err)))
		goto out;
	cache = jieba_cache_path(key);
	if (cache && (j = jieba_cache_read(cache, key)))
		goto out;
	j = calloc(1, sizeof *j);
	if (!j) {
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	j->cap_nodes = 1 << 16;
	j->freq = malloc(j->cap_nodes * sizeof *j->freq);
	j->emask = (1 << 16) - 1;
	j->ekey = malloc((j->emask + 1) * sizeof *j->ekey);
	j->eval = malloc((j->emask + 1) * sizeof *j->eval);
	j->emit = malloc((size_t)(JIEBA_HAN_HI - JIEBA_HAN_LO + 1) * 4 * sizeof *j->emit);
	if (!j->freq || !j->ekey || !j->eval || !j->emit) {
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	memset(j->ekey, 0xff, (j->emask + 1) * sizeof *j->ekey);
	j->n_nodes = 1;
	j->freq[0] = 0;
	for (size_t i = 0; i < (size_t)(JIEBA_HAN_HI - JIEBA_HAN_LO + 1) * 4; i++)
		j->emit[i] = JIEBA_MIN_FLOAT;
	for (int a = 0; a < 4; a++) {
		j->start[a] = JIEBA_MIN_FLOAT;
		for (int b = 0; b < 4; b++)
			j->trans[a][b] = JIEBA_MIN_FLOAT;
	}
	if ((rc = load_dict(j, dp, err)) || (rc = load_table(j, hp, "prob_start.py", 0, err)) ||
	    (rc = load_table(j, hp, "prob_trans.py", 1, err)) ||
	    (rc = load_table(j, hp, "prob_emit.py", 2, err)))
		goto out;
	/* calc(): log(FREQ.get(w) or 1) - logtotal; math.log of an int n < 2^53 is log((double)n) */
	j->logtotal = log((double)j->total);
	j->logp = malloc(j->n_nodes * sizeof *j->logp);
	if (!j->logp) {
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < j->n_nodes; i++)
		j->logp[i] = log(j->freq[i] > 0 ? (double)j->freq[i] : 1.0) - j->logtotal;
	if (cache)
		jieba_cache_write(j, cache, key);
out:
	free(cache);
	free(dflt_dict);
	free(dflt_hmm);
	if (rc) {
		jieba_free(j);
		return NULL;
	}
	return j;
}
