/* qlora-tools: ISC license. */
/*
 * The BPE model of tokenizer.json: vocab and merges loading, and BPE on one pre-token exactly
 * as HF tokenizers models/bpe (reference.md 1.2, 1.3). Short words use a rank scan over a
 * compact array; long words the (rank, position) min-heap of HF's Word::merge_all. Both give
 * the same result: the lowest-rank pair is merged first, leftmost on ties.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/internal.h"

/* ---- the byte-level alphabet (reference.md 1.4) ---- */

/* Code point standing for byte b in byte-level vocabularies. */
static uint32_t byte_char(unsigned b)
{
	if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
		return b;
	return 0x100 + (b <= 0x20 ? b : b <= 0xA0 ? b - 0x7F + 0x21 : 0x43);
}

/* UTF-8 of byte_char(b) into out (2 bytes max); returns the length. */
static inline size_t byte_char_utf8(unsigned b, char *out)
{
	uint32_t c = byte_char(b);
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = (char)(0xC0 | (c >> 6));
	out[1] = (char)(0x80 | (c & 0x3F));
	return 2;
}

/* ---- merge map ---- */

static inline uint32_t merge_slot(uint64_t key, uint32_t mask)
{
	return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

/* rank << 32 | new_id of merge (a, b), or UINT64_MAX. */
static inline uint64_t merge_get(const struct tokenizer *t, uint32_t a, uint32_t b)
{
	uint64_t key = ((uint64_t)a << 32 | b) + 1;
	for (uint32_t h = merge_slot(key, t->merge_mask);; h = (h + 1) & t->merge_mask) {
		if (t->merge_key[h] == key)
			return t->merge_val[h];
		if (t->merge_key[h] == 0)
			return UINT64_MAX;
	}
}

void tk_merge_put(struct tokenizer *t, uint32_t a, uint32_t b, uint64_t val)
{
	uint64_t key = ((uint64_t)a << 32 | b) + 1;
	uint32_t h = merge_slot(key, t->merge_mask);
	while (t->merge_key[h] != 0 && t->merge_key[h] != key)
		h = (h + 1) & t->merge_mask;
	t->merge_key[h] = key;
	t->merge_val[h] = val; /* a duplicated pair keeps the later rank, as HF's HashMap */
}

/* ---- loading ---- */

static int opt_bool(json_t *m, const char *k, int *out, const char *path, struct qt_err *err)
{
	json_t *v = json_object_get(m, k);
	if (!v || json_is_null(v))
		return QT_OK;
	if (!json_is_boolean(v))
		return qt_err_set(err, QT_EDATA, "%s: model.%s: expected true or false", path, k);
	*out = json_is_true(v);
	return QT_OK;
}

static int opt_str(json_t *m, const char *k, char **out, uint32_t *len, const char *path,
                   struct qt_err *err)
{
	json_t *v = json_object_get(m, k);
	if (!v || json_is_null(v))
		return QT_OK;
	if (!json_is_string(v))
		return qt_err_set(err, QT_EDATA, "%s: model.%s: expected a string or null", path, k);
	*len = (uint32_t)json_string_length(v);
	*out = malloc(*len + 1);
	if (!*out)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	memcpy(*out, json_string_value(v), *len + 1);
	return QT_OK;
}

static int load_vocab(struct tokenizer *t, json_t *vocab, const char *path, struct qt_err *err)
{
	const char *k;
	json_t *v;
	size_t total = 0, n = json_object_size(vocab);
	json_object_foreach(vocab, k, v) {
		(void)v;
		total += strlen(k) + 1;
	}
	if (n >= UINT32_MAX / 2 || !(t->blob = malloc(total ? total : 1)) ||
	    tk_strmap_init(&t->vocab, (uint32_t)n) != 0)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	char *p = t->blob;
	json_object_foreach(vocab, k, v) {
		json_int_t id = json_integer_value(v);
		if (!json_is_integer(v) || id < 0 || id >= (json_int_t)UINT32_MAX)
			return qt_err_set(err, QT_EDATA, "%s: model.vocab: \"%s\": expected an id "
			                  "(a non-negative integer)", path, k);
		size_t len = strlen(k);
		memcpy(p, k, len + 1);
		if (tk_strmap_put(&t->vocab, p, (uint32_t)len, (uint32_t)id) != 0)
			return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
		p += len + 1;
	}
	t->vocab_count = t->vocab.n;
	return QT_OK;
}

/* One merge (a, b) at rank: checks the three tokens and stores it. */
static int add_merge(struct tokenizer *t, const char *a, size_t al, const char *b, size_t bl,
                     uint32_t rank, size_t index, const char *path, struct qt_err *err)
{
	uint32_t ia = tk_strmap_get(&t->vocab, a, al), ib = tk_strmap_get(&t->vocab, b, bl);
	const char *bad = ia == TK_NONE ? a : ib == TK_NONE ? b : NULL;
	int badlen = (int)(ia == TK_NONE ? al : bl);
	if (bad)
		return qt_err_set(err, QT_EDATA, "%s: model.merges[%zu]: token \"%.*s\" is not in "
		                  "model.vocab", path, index, badlen, bad);
	if (bl < t->prefix_len)
		return qt_err_set(err, QT_EDATA, "%s: model.merges[%zu]: token \"%.*s\" is shorter "
		                  "than continuing_subword_prefix", path, index, (int)bl, b);
	char stackbuf[256], *m = al + bl <= sizeof stackbuf ? stackbuf : malloc(al + bl);
	if (!m)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	memcpy(m, a, al);
	memcpy(m + al, b + t->prefix_len, bl - t->prefix_len);
	size_t ml = al + bl - t->prefix_len;
	uint32_t nid = tk_strmap_get(&t->vocab, m, ml);
	if (nid == TK_NONE) {
		qt_err_set(err, QT_EDATA, "%s: model.merges[%zu]: merged token \"%.*s\" is not in "
		           "model.vocab", path, index, (int)ml, m);
		if (m != stackbuf)
			free(m);
		return QT_EDATA;
	}
	if (m != stackbuf)
		free(m);
	tk_merge_put(t, ia, ib, (uint64_t)rank << 32 | nid);
	return QT_OK;
}

int tk_merge_init(struct tokenizer *t, size_t n)
{
	size_t slots = 16;
	while (slots < n * 2 + 2)
		slots <<= 1;
	t->merge_key = calloc(slots, sizeof *t->merge_key);
	t->merge_val = calloc(slots, sizeof *t->merge_val);
	if (!t->merge_key || !t->merge_val)
		return -1;
	t->merge_mask = (uint32_t)(slots - 1);
	return 0;
}

static int load_merges(struct tokenizer *t, json_t *merges, const char *path, struct qt_err *err)
{
	size_t n = json_array_size(merges);
	if (tk_merge_init(t, n) != 0)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	int legacy = n > 0 && json_is_string(json_array_get(merges, 0));
	uint32_t rank = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_array_get(merges, i);
		int rc;
		if (legacy) {
			if (!json_is_string(m))
				return qt_err_set(err, QT_EDATA, "%s: model.merges[%zu]: expected a "
				                  "string like the first merge", path, i);
			const char *s = json_string_value(m);
			size_t len = json_string_length(m);
			if (len >= 8 && memcmp(s, "#version", 8) == 0)
				continue;
			const char *sp = memchr(s, ' ', len);
			if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s)))
				return qt_err_set(err, QT_EDATA, "%s: model.merges[%zu]: bad merge \"%s\" "
				                  "(expected two tokens separated by one space)",
				                  path, i, s);
			rc = add_merge(t, s, (size_t)(sp - s), sp + 1, len - (size_t)(sp + 1 - s),
			               rank, i, path, err);
		} else {
			json_t *a = json_array_get(m, 0), *b = json_array_get(m, 1);
			if (!json_is_array(m) || json_array_size(m) != 2 || !json_is_string(a) ||
			    !json_is_string(b))
				return qt_err_set(err, QT_EDATA, "%s: model.merges[%zu]: expected a pair "
				                  "of strings [\"a\", \"b\"]", path, i);
			rc = add_merge(t, json_string_value(a), json_string_length(a),
			               json_string_value(b), json_string_length(b), rank, i, path, err);
		}
		if (rc != QT_OK)
			return rc;
		rank++;
	}
	return QT_OK;
}

int tk_model_load(struct tokenizer *t, json_t *m, const char *path, struct qt_err *err)
{
	int rc;
	const char *type = json_string_value(json_object_get(m, "type"));
	if (!type)
		return qt_err_set(err, QT_EDATA, "%s: model.type: missing (\"BPE\" or \"Unigram\" "
		                  "are supported)", path);
	if (strcmp(type, "Unigram") == 0)
		return tk_unigram_load(t, m, path, err);
	if (strcmp(type, "BPE") != 0)
		return qt_err_set(err, QT_EDATA, "%s: model.type: unsupported model type \"%s\" "
		                  "(only \"BPE\" and \"Unigram\" are supported)", path, type);
	json_t *d = json_object_get(m, "dropout");
	if (d && !json_is_null(d)) {
		if (!json_is_number(d) || json_number_value(d) < 0 || json_number_value(d) > 1)
			return qt_err_set(err, QT_EDATA, "%s: model.dropout: expected null or a "
			                  "number in [0, 1]", path);
		if (json_number_value(d) > 0)
			return qt_err_set(err, QT_EDATA, "%s: model.dropout: %g is not supported "
			                  "(BPE dropout is random; only null or 0)", path,
			                  json_number_value(d));
	}
	char *unk = NULL;
	uint32_t unk_len = 0;
	if ((rc = opt_bool(m, "fuse_unk", &t->fuse_unk, path, err)) ||
	    (rc = opt_bool(m, "byte_fallback", &t->byte_fallback, path, err)) ||
	    (rc = opt_bool(m, "ignore_merges", &t->ignore_merges, path, err)) ||
	    (rc = opt_str(m, "continuing_subword_prefix", &t->prefix, &t->prefix_len, path, err)) ||
	    (rc = opt_str(m, "end_of_word_suffix", &t->suffix, &t->suffix_len, path, err)) ||
	    (rc = opt_str(m, "unk_token", &unk, &unk_len, path, err)))
		return rc;
	json_t *vocab = json_object_get(m, "vocab"), *merges = json_object_get(m, "merges");
	if (!json_is_object(vocab))
		rc = qt_err_set(err, QT_EDATA, "%s: model.vocab: missing or not an object", path);
	else if (!json_is_array(merges))
		rc = qt_err_set(err, QT_EDATA, "%s: model.merges: missing or not an array", path);
	else if ((rc = load_vocab(t, vocab, path, err)) == QT_OK)
		rc = load_merges(t, merges, path, err);
	if (rc == QT_OK && unk) {
		t->unk_id = tk_strmap_get(&t->vocab, unk, unk_len);
		if (t->unk_id == TK_NONE)
			rc = qt_err_set(err, QT_EDATA, "%s: model.unk_token: \"%s\" is not in "
			                "model.vocab", path, unk);
	}
	free(unk);
	if (rc != QT_OK)
		return rc;
	for (unsigned b = 0; b < 256; b++) {
		char u[8];
		size_t l = byte_char_utf8(b, u);
		t->byte_id[b] = tk_strmap_get(&t->vocab, u, l);
		snprintf(u, sizeof u, "<0x%02X>", b);
		t->fallback_id[b] = tk_strmap_get(&t->vocab, u, 6);
	}
	tk_bpe_parts_init(t);
	return QT_OK;
}

void tk_model_free(struct tokenizer *t)
{
	free(t->spm_score);
	free(t->spm_off);
	free(t->uni_score);
	free(t->spm_type);
	tk_strmap_free(&t->vocab);
	tk_strmap_free(&t->uni_prefix);
	free(t->blob);
	free(t->merge_key);
	free(t->merge_val);
	free(t->prefix);
	free(t->suffix);
}

/* ---- one word ---- */

int tk_sym_reserve(struct tk_scratch *s, size_t n)
{
	if (n <= s->sym_cap)
		return 0;
	size_t c = s->sym_cap ? s->sym_cap : 64;
	while (c < n)
		c *= 2;
	uint32_t *a = realloc(s->sym, c * sizeof *a);
	if (a) s->sym = a;
	uint32_t *b = realloc(s->rank, c * sizeof *b);
	if (b) s->rank = b;
	uint32_t *d = realloc(s->nid, c * sizeof *d);
	if (d) s->nid = d;
	int32_t *e = realloc(s->prev, c * sizeof *e);
	if (e) s->prev = e;
	int32_t *f = realloc(s->next, c * sizeof *f);
	if (f) s->next = f;
	if (!a || !b || !d || !e || !f)
		return -1;
	s->sym_cap = c;
	return 0;
}

static int buf_reserve(struct tk_scratch *s, size_t n)
{
	if (n <= s->buf_cap)
		return 0;
	size_t c = s->buf_cap ? s->buf_cap : 256;
	while (c < n)
		c *= 2;
	char *b = realloc(s->buf, c);
	if (!b)
		return -1;
	s->buf = b;
	s->buf_cap = c;
	return 0;
}

/* Initial symbols of a word: HF merge_word's per-character loop. */
struct symbuild {
	uint32_t n;
	int unk;        /* a pending unk symbol */
};

static void sym_push(struct tk_scratch *s, struct symbuild *sb, uint32_t id)
{
	s->sym[sb->n++] = id;
}

/* A character (with prefix/suffix added: str) that is not in the vocab. */
static void sym_missing(struct tk_scratch *s, struct symbuild *sb, const char *str, size_t len)
{
	const struct tokenizer *t = s->t;
	if (t->byte_fallback) {
		size_t i = 0;
		while (i < len && t->fallback_id[(unsigned char)str[i]] != TK_NONE)
			i++;
		if (i == len) { /* HF adds these without flushing a pending unk */
			for (i = 0; i < len; i++)
				sym_push(s, sb, t->fallback_id[(unsigned char)str[i]]);
			return;
		}
	}
	if (t->unk_id == TK_NONE)
		return; /* silently dropped */
	if (sb->unk && !t->fuse_unk)
		sym_push(s, sb, t->unk_id);
	sb->unk = 1;
}

static void sym_known(struct tk_scratch *s, struct symbuild *sb, uint32_t id)
{
	if (sb->unk) {
		sym_push(s, sb, s->t->unk_id);
		sb->unk = 0;
	}
	sym_push(s, sb, id);
}

/* Maps w's bytes to byte-level chars in s->buf; returns the length or (size_t)-1. */
static size_t map_bytes(struct tk_scratch *s, const char *w, size_t n)
{
	if (buf_reserve(s, 2 * n + 1) != 0)
		return (size_t)-1;
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
		o += byte_char_utf8((unsigned char)w[i], s->buf + o);
	return o;
}

/* Symbols of string w, character by character, with prefix and suffix. */
static int build_generic(struct tk_scratch *s, struct symbuild *sb, const char *w, size_t n)
{
	const struct tokenizer *t = s->t;
	char stackbuf[128];
	for (size_t i = 0; i < n;) {
		size_t cl;
		tk_utf8_next((const unsigned char *)w + i, &cl);
		if (i + cl > n)
			cl = n - i;
		const char *str = w + i;
		size_t len = cl;
		int first = i == 0, last = i + cl == n;
		if ((!first && t->prefix) || (last && t->suffix)) {
			size_t pl = !first && t->prefix ? t->prefix_len : 0;
			size_t sl = last && t->suffix ? t->suffix_len : 0;
			if (pl + cl + sl > sizeof stackbuf)
				return -1;
			if (pl)
				memcpy(stackbuf, t->prefix, pl);
			memcpy(stackbuf + pl, w + i, cl);
			if (sl)
				memcpy(stackbuf + pl + cl, t->suffix, sl);
			str = stackbuf;
			len = pl + cl + sl;
		}
		uint32_t id = tk_strmap_get(&t->vocab, str, len);
		if (id != TK_NONE)
			sym_known(s, sb, id);
		else
			sym_missing(s, sb, str, len);
		i += cl;
	}
	return 0;
}

/* Short words: repeatedly merge the leftmost lowest-rank pair of a compact array. */
static uint32_t merge_scan(struct tk_scratch *s, uint32_t n)
{
	const struct tokenizer *t = s->t;
	uint32_t *sym = s->sym, *rank = s->rank, *nid = s->nid;
	for (uint32_t i = 0; i + 1 < n; i++) {
		uint64_t v = merge_get(t, sym[i], sym[i + 1]);
		rank[i] = (uint32_t)(v >> 32);
		nid[i] = (uint32_t)v;
	}
	while (n > 1) {
		uint32_t best = UINT32_MAX, at = 0;
		for (uint32_t i = 0; i + 1 < n; i++)
			if (rank[i] < best) {
				best = rank[i];
				at = i;
			}
		if (best == UINT32_MAX)
			break;
		sym[at] = nid[at];
		n--;
		for (uint32_t i = at + 1; i < n; i++) {
			sym[i] = sym[i + 1];
			rank[i] = rank[i + 1];
			nid[i] = nid[i + 1];
		}
		for (uint32_t i = at ? at - 1 : 0; i <= at && i + 1 < n; i++) {
			uint64_t v = merge_get(t, sym[i], sym[i + 1]);
			rank[i] = (uint32_t)(v >> 32);
			nid[i] = (uint32_t)v;
		}
	}
	return n;
}

/* ---- min-heap of (rank << 32 | position) ---- */

static int heap_push(struct tk_scratch *s, size_t *n, uint64_t v)
{
	if (*n == s->heap_cap) {
		size_t c = s->heap_cap ? s->heap_cap * 2 : 256;
		uint64_t *h = realloc(s->heap, c * sizeof *h);
		if (!h)
			return -1;
		s->heap = h;
		s->heap_cap = c;
	}
	uint64_t *h = s->heap;
	size_t i = (*n)++;
	while (i > 0 && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
	return 0;
}

static uint64_t heap_pop(struct tk_scratch *s, size_t *n)
{
	uint64_t *h = s->heap, top = h[0], v = h[--(*n)];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
	return top;
}

static int heap_pair(struct tk_scratch *s, size_t *hn, int32_t pos)
{
	int32_t nx = s->next[pos];
	if (nx < 0)
		return 0;
	uint64_t v = merge_get(s->t, s->sym[pos], s->sym[nx]);
	if (v == UINT64_MAX)
		return 0;
	return heap_push(s, hn, (v & 0xFFFFFFFF00000000ull) | (uint32_t)pos);
}

/* Long words: HF Word::merge_all. Returns the symbol count (compacted into s->sym). */
static uint32_t merge_heap(struct tk_scratch *s, uint32_t n)
{
	size_t hn = 0;
	for (uint32_t i = 0; i < n; i++) {
		s->prev[i] = (int32_t)i - 1;
		s->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
	}
	for (uint32_t i = 0; i + 1 < n; i++)
		if (heap_pair(s, &hn, (int32_t)i) != 0)
			s->oom = 1;
	while (hn > 0) {
		uint64_t top = heap_pop(s, &hn);
		int32_t pos = (int32_t)(uint32_t)top, nx = s->next[pos];
		if (s->sym[pos] == TK_NONE || nx < 0)
			continue;
		uint64_t v = merge_get(s->t, s->sym[pos], s->sym[nx]);
		if (v == UINT64_MAX || (v >> 32) != (top >> 32))
			continue; /* stale: the pair at pos changed since it was pushed */
		s->sym[pos] = (uint32_t)v;
		s->sym[nx] = TK_NONE;
		s->next[pos] = s->next[nx];
		if (s->next[nx] >= 0)
			s->prev[s->next[nx]] = pos;
		if ((s->prev[pos] >= 0 && heap_pair(s, &hn, s->prev[pos]) != 0) ||
		    heap_pair(s, &hn, pos) != 0)
			s->oom = 1;
	}
	uint32_t m = 0;
	for (uint32_t i = 0; i < n; i++)
		if (s->sym[i] != TK_NONE)
			s->sym[m++] = s->sym[i];
	return m;
}

static uint64_t word_hash(const char *w, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)w[i]) * 0x100000001b3ull;
	return (h ^ (h >> 31)) | 1;
}

static void bpe_word(struct tk_scratch *s, const char *w, size_t n, int bytes)
{
	const struct tokenizer *t = s->t;
	if (n == 0)
		return;
	struct tk_cache_entry *ce = NULL;
	uint64_t h = 0;
	if (n <= TK_CACHE_KEY) {
		h = word_hash(w, n);
		ce = &s->cache[h & (TK_CACHE_SLOTS - 1)];
		if (ce->hash == h && ce->len == n && memcmp(ce->key, w, n) == 0) {
			for (uint32_t i = 0; i < ce->n; i++)
				tk_emit(s, ce->ids[i]);
			return;
		}
	}
	if (t->spm_kind == TK_SPM_UNIGRAM || t->hf_unigram) {
		uint32_t m = tk_unigram_word(s, w, n);
		for (uint32_t i = 0; i < m; i++)
			tk_emit(s, s->sym[i]);
		if (ce && m <= TK_CACHE_IDS && !s->oom) {
			ce->hash = h;
			ce->len = (uint8_t)n;
			ce->n = (uint8_t)m;
			memcpy(ce->key, w, n);
			memcpy(ce->ids, s->sym, m * sizeof *s->sym);
		}
		return;
	}
	const char *str = w;
	size_t len = n;
	int generic = !bytes || t->prefix || t->suffix;
	if (bytes && (generic || t->ignore_merges)) {
		if ((len = map_bytes(s, w, n)) == (size_t)-1) {
			s->oom = 1;
			return;
		}
		str = s->buf;
	}
	if (t->ignore_merges) {
		uint32_t id = tk_strmap_get(&t->vocab, str, len);
		if (id != TK_NONE) {
			tk_emit(s, id);
			return;
		}
	}
	/* at most one symbol per byte, plus the prefix/suffix bytes byte_fallback may add per
	 * character, plus a final unk */
	if (tk_sym_reserve(s, len * (1 + (size_t)t->prefix_len + t->suffix_len) + 1) != 0) {
		s->oom = 1;
		return;
	}
	struct symbuild sb = { 0, 0 };
	if (!generic) {
		for (size_t i = 0; i < n; i++) {
			uint32_t id = t->byte_id[(unsigned char)w[i]];
			if (id != TK_NONE) {
				sym_known(s, &sb, id);
			} else {
				char u[2];
				sym_missing(s, &sb, u, byte_char_utf8((unsigned char)w[i], u));
			}
		}
	} else if (build_generic(s, &sb, str, len) != 0) {
		s->oom = 1;
		return;
	}
	if (sb.unk)
		sym_push(s, &sb, t->unk_id);
	uint32_t m = sb.n <= 48 ? merge_scan(s, sb.n) : merge_heap(s, sb.n);
	for (uint32_t i = 0; i < m; i++)
		tk_emit(s, s->sym[i]);
	if (ce && m <= TK_CACHE_IDS) {
		ce->hash = h;
		ce->len = (uint8_t)n;
		ce->n = (uint8_t)m;
		memcpy(ce->key, w, n);
		memcpy(ce->ids, s->sym, m * sizeof *s->sym);
	}
}

#define SPM_MARK "\xE2\x96\x81" /* U+2581, SentencePiece's word marker */

/* A SentencePiece-style word (a whole sentence when nothing splits it) is cut before each
 * marker that follows another character; each part goes through BPE (and the word cache)
 * alone. Exact when no vocabulary string has a marker after another character (t->spm_parts,
 * set at load): then no merge can join two parts, merges in different parts never interact,
 * and an unknown character never fuses across the known marker. */
void tk_bpe_word(struct tk_scratch *s, const char *w, size_t n, int bytes)
{
	if (!s->t->spm_parts || bytes || n <= TK_CACHE_KEY) {
		bpe_word(s, w, n, bytes);
		return;
	}
	size_t start = 0;
	for (const char *q = w + 1; (q = memmem(q, n - (size_t)(q - w), SPM_MARK, 3)); q += 3) {
		size_t at = (size_t)(q - w);
		if (at >= 3 && memcmp(q - 3, SPM_MARK, 3) == 0)
			continue;
		bpe_word(s, w + start, at - start, 0);
		start = at;
	}
	bpe_word(s, w + start, n - start, 0);
}

void tk_bpe_parts_init(struct tokenizer *t)
{
	t->spm_parts = 0;
	if (t->prefix || t->suffix || t->ignore_merges ||
	    tk_strmap_get(&t->vocab, SPM_MARK, 3) == TK_NONE)
		return;
	for (uint32_t i = 0; i < t->vocab.n; i++) {
		const char *k = t->vocab.str[i];
		size_t len = t->vocab.len[i];
		for (const char *q = k + 1; len > 3 && (q = memmem(q, len - (size_t)(q - k), SPM_MARK,
		                                                   3)); q += 3)
			if ((size_t)(q - k) < 3 || memcmp(q - 3, SPM_MARK, 3) != 0)
				return;
	}
	t->spm_parts = 1;
}
