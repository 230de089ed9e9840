/* qlora-tools: ISC license. */
/*
 * Added tokens of tokenizer.json (reference.md 1.6): id assignment at load, and the split of
 * the input at their occurrences before the model runs: leftmost-longest, non-overlapping,
 * with single_word, lstrip and rstrip, first for normalized:false tokens on the raw text,
 * then for normalized:true tokens on each normalized remaining piece.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/tokenizer/internal.h"

/* ---- loading ---- */

static int flag(json_t *o, const char *k, int def, unsigned *out, size_t i, const char *path,
                struct qt_err *err)
{
	json_t *v = json_object_get(o, k);
	*out = (unsigned)def;
	if (!v)
		return QT_OK;
	if (!json_is_boolean(v))
		return qt_err_set(err, QT_EDATA, "%s: added_tokens[%zu].%s: expected true or false",
		                  path, i, k);
	*out = json_is_true(v);
	return QT_OK;
}

int tk_added_load(struct tokenizer *t, json_t *arr, const char *path, struct qt_err *err)
{
	if (!arr || json_is_null(arr))
		return QT_OK;
	if (!json_is_array(arr))
		return qt_err_set(err, QT_EDATA, "%s: added_tokens: expected an array", path);
	size_t n = json_array_size(arr);
	t->added = calloc(n ? n : 1, sizeof *t->added);
	if (!t->added)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	/* HF add_tokens: ids of new contents start after the model vocab (its entry count). */
	uint32_t next_id = t->vocab_count;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i), *c = json_object_get(o, "content");
		if (!json_is_object(o) || !json_is_string(c))
			return qt_err_set(err, QT_EDATA, "%s: added_tokens[%zu]: expected an object "
			                  "with a string \"content\"", path, i);
		struct tk_added a = { 0 };
		unsigned sw, ls, rs, nm, sp;
		int rc;
		if ((rc = flag(o, "single_word", 0, &sw, i, path, err)) ||
		    (rc = flag(o, "lstrip", 0, &ls, i, path, err)) ||
		    (rc = flag(o, "rstrip", 0, &rs, i, path, err)) ||
		    (rc = flag(o, "normalized", 1, &nm, i, path, err)) ||
		    (rc = flag(o, "special", 0, &sp, i, path, err)))
			return rc;
		a.single_word = sw;
		a.lstrip = ls;
		a.rstrip = rs;
		a.normalized = nm;
		a.special = sp;
		a.len = (uint32_t)json_string_length(c);
		if (a.len == 0)
			continue; /* HF ignores empty contents */
		const char *s = json_string_value(c);
		uint32_t k;
		for (k = 0; k < t->n_added; k++)
			if (t->added[k].len == a.len && memcmp(t->added[k].content, s, a.len) == 0)
				break;
		if (k < t->n_added) { /* same content again: the later flags win */
			a.id = t->added[k].id;
			free(t->added[k].content);
			free(t->added[k].pattern);
		} else {
			a.id = tk_strmap_get(&t->vocab, s, a.len);
			if (a.id == TK_NONE)
				a.id = next_id++;
			t->n_added++;
		}
		a.content = malloc(a.len + 1);
		if (!a.content)
			return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
		memcpy(a.content, s, a.len + 1);
		size_t pl = a.len;
		a.pattern = tk_normalize_dup(a.normalized ? t : NULL, s, a.len, &pl);
		t->added[k] = a;
		if (!a.pattern)
			return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
		t->added[k].plen = (uint32_t)pl;
	}
	return QT_OK;
}

/* ---- matchers ---- */

static int cmp_idx(const void *x, const void *y, void *ctx)
{
	const struct tokenizer *t = ctx;
	const struct tk_added *a = &t->added[*(const uint32_t *)x];
	const struct tk_added *b = &t->added[*(const uint32_t *)y];
	unsigned ca = (unsigned char)a->pattern[0], cb = (unsigned char)b->pattern[0];
	if (ca != cb)
		return ca < cb ? -1 : 1;
	if (a->plen != b->plen)
		return a->plen > b->plen ? -1 : 1;
	return 0;
}

static int build(struct tokenizer *t, struct tk_matcher *m, unsigned normalized)
{
	m->idx = malloc((t->n_added ? t->n_added : 1) * sizeof *m->idx);
	if (!m->idx)
		return -1;
	m->n = 0;
	for (uint32_t i = 0; i < t->n_added; i++)
		if (t->added[i].normalized == normalized && t->added[i].plen > 0)
			m->idx[m->n++] = i;
	qsort_r(m->idx, m->n, sizeof *m->idx, cmp_idx, t);
	memset(m->first, 0, sizeof m->first);
	for (uint32_t i = 0; i < m->n; i++)
		m->first[(unsigned char)t->added[m->idx[i]].pattern[0] + 1]++;
	for (unsigned b = 0; b < 256; b++)
		m->first[b + 1] += m->first[b];
	m->all_special = 1;
	for (uint32_t i = 0; i < m->n; i++)
		if (!t->added[m->idx[i]].special)
			m->all_special = 0;
	m->one_byte = -1;
	if (m->n > 0) {
		unsigned b0 = (unsigned char)t->added[m->idx[0]].pattern[0];
		if (m->first[b0 + 1] - m->first[b0] == m->n)
			m->one_byte = (int)b0;
	}
	return 0;
}

int tk_added_build(struct tokenizer *t)
{
	return build(t, &t->raw, 0) != 0 || build(t, &t->norm, 1) != 0 ? -1 : 0;
}

void tk_added_free(struct tokenizer *t)
{
	for (uint32_t i = 0; i < t->n_added; i++) {
		free(t->added[i].content);
		free(t->added[i].pattern);
	}
	free(t->added);
	free(t->raw.idx);
	free(t->norm.idx);
}

/* Leftmost-longest match in p[from..n): its start, and the added-token index, or -1. */
static int64_t find(const struct tokenizer *t, const struct tk_matcher *m, const char *p,
                    size_t n, size_t from, size_t *at)
{
	for (size_t i = from; i < n; i++) {
		if (m->one_byte >= 0) {
			const char *q = memchr(p + i, m->one_byte, n - i);
			if (!q)
				return -1;
			i = (size_t)(q - p);
		}
		unsigned b = (unsigned char)p[i];
		for (uint32_t j = m->first[b]; j < m->first[b + 1]; j++) {
			const struct tk_added *a = &t->added[m->idx[j]];
			if (a->plen <= n - i && memcmp(p + i, a->pattern, a->plen) == 0) {
				*at = i;
				return m->idx[j];
			}
		}
	}
	return -1;
}

/* The code point that ends right before p + i (i > 0). */
static uint32_t char_before(const char *p, size_t i)
{
	size_t j = i - 1, l;
	while (j > 0 && ((unsigned char)p[j] & 0xC0) == 0x80)
		j--;
	return tk_utf8_next((const unsigned char *)p + j, &l);
}

static void next_stage(struct tk_scratch *s, const char *p, size_t n, int normalized_stage)
{
	if (n == 0)
		return;
	if (normalized_stage) {
		tk_pretok_run(s, p, n);
		return;
	}
	struct tk_arena_mark mark = tk_arena_mark(s);
	size_t m;
	const char *q = tk_normalize(s, p, n, &m);
	/* Metaspace's prepend_scheme "first" asks whether a piece starts at the input's offset 0:
	 * the piece that starts there, unless the normalizer cut characters off its start. */
	s->orig0 = p == s->input && !s->lead_cut ? q : NULL;
	const struct tk_matcher *nm = &s->t->norm;
	if (nm->n && !(nm->all_special && (s->flags & TOKENIZER_TEXT_ONLY)))
		tk_added_split(s, nm, q, m, 1);
	else
		tk_pretok_run(s, q, m);
	tk_arena_release(s, mark);
}

void tk_added_split(struct tk_scratch *s, const struct tk_matcher *m, const char *p, size_t n,
                    int normalized_stage)
{
	const struct tokenizer *t = s->t;
	size_t start_offset = 0, pos = 0, ms;
	int64_t k;
	while (pos < n && !s->oom && (k = find(t, m, p, n, pos, &ms)) >= 0) {
		const struct tk_added *a = &t->added[k];
		size_t me = ms + a->plen, start = ms, stop = me, l;
		pos = me;
		if (a->special && (s->flags & TOKENIZER_TEXT_ONLY))
			continue;
		if (a->single_word) {
			int before = ms > 0 && tk_is_word(char_before(p, ms));
			int after = me < n && tk_is_word(tk_utf8_next((const unsigned char *)p + me,
			                                              &l));
			if (before || after)
				continue;
		}
		if (a->lstrip) {
			while (start > 0 && tk_is_space(char_before(p, start))) {
				size_t j = start - 1;
				while (j > 0 && ((unsigned char)p[j] & 0xC0) == 0x80)
					j--;
				start = j;
			}
			if (start < start_offset)
				start = start_offset;
		}
		if (a->rstrip)
			while (stop < n && tk_is_space(tk_utf8_next((const unsigned char *)p + stop,
			                                           &l)))
				stop += l;
		if (start_offset < start)
			next_stage(s, p + start_offset, start - start_offset, normalized_stage);
		tk_emit(s, a->id);
		start_offset = stop;
	}
	if (start_offset < n)
		next_stage(s, p + start_offset, n - start_offset, normalized_stage);
}

void tk_added_run(struct tk_scratch *s, const char *p, size_t n)
{
	const struct tk_matcher *m = &s->t->raw;
	if (m->n && !(m->all_special && (s->flags & TOKENIZER_TEXT_ONLY)))
		tk_added_split(s, m, p, n, 0);
	else
		next_stage(s, p, n, 0);
}

unsigned tokenizer_added_flags(const struct tokenizer *t, uint32_t id)
{
	for (uint32_t i = 0; i < t->n_added; i++) {
		const struct tk_added *a = &t->added[i];
		if (a->id == id)
			return (a->lstrip ? TOKENIZER_ADDED_LSTRIP : 0u) |
			       (a->rstrip ? TOKENIZER_ADDED_RSTRIP : 0u) |
			       (a->single_word ? TOKENIZER_ADDED_SINGLE_WORD : 0u) |
			       (a->normalized ? TOKENIZER_ADDED_NORMALIZED : 0u);
	}
	return 0;
}
