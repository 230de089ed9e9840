/* qlora-tools: ISC license. */
/*
 * tokenizer.json loading (top level, id tables) and the small public accessors. The pipeline
 * parts live beside it in formats/tokenizer/: normalize.c, added.c, pretok.c, bpe.c,
 * postproc.c, encode.c, decode.c. See tokenizer(5).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/hash.h"
#include "common/io.h"
#include "formats/tokenizer/internal.h"

/* ---- string -> id map ---- */

static uint64_t strhash(const char *s, size_t n)
{
	/* FNV-1a folded with a multiply: fast on the short strings of a vocabulary. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

int tk_strmap_init(struct tk_strmap *m, uint32_t expect)
{
	uint32_t slots = 16;
	while (slots < expect * 2u + 2u)
		slots <<= 1;
	memset(m, 0, sizeof *m);
	m->slot = malloc(sizeof *m->slot * slots);
	m->cap = expect ? expect : 1;
	m->str = malloc(sizeof *m->str * m->cap);
	m->len = malloc(sizeof *m->len * m->cap);
	m->val = malloc(sizeof *m->val * m->cap);
	if (!m->slot || !m->str || !m->len || !m->val)
		return -1;
	memset(m->slot, 0xFF, sizeof *m->slot * slots);
	m->mask = slots - 1;
	return 0;
}

void tk_strmap_free(struct tk_strmap *m)
{
	free(m->slot);
	free(m->str);
	free(m->len);
	free(m->val);
	memset(m, 0, sizeof *m);
}

static int strmap_grow(struct tk_strmap *m)
{
	uint32_t slots = (m->mask + 1) * 2;
	uint32_t *ns = malloc(sizeof *ns * slots);
	if (!ns)
		return -1;
	memset(ns, 0xFF, sizeof *ns * slots);
	for (uint32_t i = 0; i < m->n; i++) {
		uint32_t h = (uint32_t)strhash(m->str[i], m->len[i]) & (slots - 1);
		while (ns[h] != TK_NONE)
			h = (h + 1) & (slots - 1);
		ns[h] = i;
	}
	free(m->slot);
	m->slot = ns;
	m->mask = slots - 1;
	return 0;
}

int tk_strmap_put(struct tk_strmap *m, const char *s, uint32_t len, uint32_t val)
{
	uint32_t h = (uint32_t)strhash(s, len) & m->mask;
	for (; m->slot[h] != TK_NONE; h = (h + 1) & m->mask) {
		uint32_t i = m->slot[h];
		if (m->len[i] == len && memcmp(m->str[i], s, len) == 0) {
			m->val[i] = val;
			return 0;
		}
	}
	if (m->n == m->cap) {
		uint32_t nc = m->cap * 2;
		const char **a = realloc(m->str, sizeof *a * nc);
		if (a) m->str = a;
		uint32_t *b = realloc(m->len, sizeof *b * nc);
		if (b) m->len = b;
		uint32_t *c = realloc(m->val, sizeof *c * nc);
		if (c) m->val = c;
		if (!a || !b || !c)
			return -1;
		m->cap = nc;
	}
	m->str[m->n] = s;
	m->len[m->n] = len;
	m->val[m->n] = val;
	m->slot[h] = m->n++;
	if (m->n * 2u > m->mask)
		return strmap_grow(m);
	return 0;
}

uint32_t tk_strmap_get(const struct tk_strmap *m, const char *s, size_t len)
{
	if (!m->slot)
		return TK_NONE;
	uint32_t h = (uint32_t)strhash(s, len) & m->mask;
	for (; m->slot[h] != TK_NONE; h = (h + 1) & m->mask) {
		uint32_t i = m->slot[h];
		if (m->len[i] == len && memcmp(m->str[i], s, len) == 0)
			return m->val[i];
	}
	return TK_NONE;
}

/* ---- loading ---- */

/* Fills the id -> string table from the model vocab, then the added tokens (which win). */
/* The highest id the vocabulary and the added tokens use, plus one. */
static uint32_t id_count(const struct tokenizer *t)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->vocab.n; i++)
		if (t->vocab.val[i] + 1 > n)
			n = t->vocab.val[i] + 1;
	for (uint32_t i = 0; i < t->n_added; i++)
		if (t->added[i].id + 1 > n)
			n = t->added[i].id + 1;
	return n;
}

static int build_id_tables(struct tokenizer *t)
{
	uint32_t n = id_count(t);
	t->n_ids = n;
	t->id_str = calloc(n ? n : 1, sizeof *t->id_str);
	t->id_len = calloc(n ? n : 1, sizeof *t->id_len);
	t->id_flags = calloc(n ? n : 1, 1);
	if (!t->id_str || !t->id_len || !t->id_flags)
		return -1;
	for (uint32_t i = 0; i < t->vocab.n; i++) {
		uint32_t id = t->vocab.val[i];
		if (tk_strmap_get(&t->vocab, t->vocab.str[i], t->vocab.len[i]) != id)
			continue; /* a duplicated key whose earlier value was overwritten */
		t->id_str[id] = t->vocab.str[i];
		t->id_len[id] = t->vocab.len[i];
	}
	for (uint32_t i = 0; i < t->n_added; i++) {
		t->id_str[t->added[i].id] = t->added[i].content;
		t->id_len[t->added[i].id] = t->added[i].len;
	}
	/* skip_special_tokens drops every token whose string is a special token's content. */
	for (uint32_t i = 0; i < t->n_added; i++) {
		if (!t->added[i].special)
			continue;
		t->id_flags[t->added[i].id] |= TK_ID_SPECIAL;
		uint32_t id = tk_strmap_get(&t->vocab, t->added[i].content, t->added[i].len);
		if (id != TK_NONE)
			t->id_flags[id] |= TK_ID_SPECIAL;
	}
	return 0;
}

static int load_json(struct tokenizer *t, json_t *root, const char *path, size_t file_len,
                     struct qt_err *err)
{
	int rc;
	if (!json_is_object(root))
		return qt_err_set(err, QT_EDATA, "%s: top level: expected a JSON object", path);
	json_t *v = json_object_get(root, "version");
	if (!json_is_string(v) || strcmp(json_string_value(v), "1.0") != 0)
		return qt_err_set(err, QT_EDATA, "%s: version: expected \"1.0\"", path);
	json_t *model = json_object_get(root, "model");
	if (!json_is_object(model))
		return qt_err_set(err, QT_EDATA, "%s: model: missing or not an object", path);
	if ((rc = tk_model_load(t, model, path, err)) != QT_OK)
		return rc;
	if ((rc = tk_normalizer_load(t, json_object_get(root, "normalizer"), path, err)) != QT_OK)
		return rc;
	if ((rc = tk_pretok_load(t, json_object_get(root, "pre_tokenizer"), path, err)) != QT_OK)
		return rc;
	if ((rc = tk_decoder_load(t, json_object_get(root, "decoder"), path, err)) != QT_OK)
		return rc;
	if ((rc = tk_postproc_load(t, json_object_get(root, "post_processor"), path, err)) != QT_OK)
		return rc;
	if ((rc = tk_added_load(t, json_object_get(root, "added_tokens"), path, err)) != QT_OK)
		return rc;
	/* The id tables take 13 bytes per id up to the highest: an id is checked against the file
	 * before they are allocated. Every listed token takes at least 4 bytes of JSON ("":0,), so
	 * ids at or beyond the file's size leave most of the range unlisted: a crafted file (an 8 KB
	 * vocabulary with an id near 10^9 asked for 13 GB), not a tokenizer. */
	uint32_t n_ids = id_count(t);
	if (n_ids > 256 && (size_t)n_ids > file_len)
		return qt_err_set(err, QT_EDATA, "%s: token id %u is out of range: a %zu-byte file "
		                  "lists far fewer tokens (ids run from 0 to the vocabulary's size)",
		                  path, n_ids - 1, file_len);
	if (build_id_tables(t) != 0 || tk_added_build(t) != 0)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	return QT_OK;
}

int tokenizer_load(const char *path, struct tokenizer **out, struct qt_err *err)
{
	char *buf;
	size_t len;
	int rc = qt_read_file(path, &buf, &len, err);
	*out = NULL;
	if (rc != QT_OK)
		return rc;
	struct tokenizer *t = calloc(1, sizeof *t);
	if (!t) {
		free(buf);
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	}
	t->fingerprint = qt_xxh3(buf, len);
	t->unk_id = TK_NONE;
	pthread_mutex_init(&t->lock, NULL);
	if (pthread_key_create(&t->key, tk_scratch_thread_exit) != 0) {
		pthread_mutex_destroy(&t->lock);
		free(t);
		free(buf);
		return qt_err_set(err, QT_ESOFTWARE, "%s: pthread_key_create failed", path);
	}
	/* JSON starts with '{' (after white space); a SentencePiece model with a protobuf key */
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (i < len && buf[i] != '{' && buf[i] != '[') {
		rc = tk_spm_model_load(t, buf, len, path, err);
		if (rc == QT_OK && (build_id_tables(t) != 0 || tk_added_build(t) != 0))
			rc = qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
		free(buf);
		if (rc != QT_OK) {
			tokenizer_free(t);
			return rc;
		}
		*out = t;
		return QT_OK;
	}
	json_error_t je;
	json_t *root = json_loadb(buf, len, JSON_ALLOW_NUL, &je);
	free(buf);
	if (!root) {
		rc = qt_err_set(err, QT_EDATA, "%s:%d: invalid JSON: %s", path, je.line, je.text);
	} else {
		rc = load_json(t, root, path, len, err);
		json_decref(root);
	}
	if (rc != QT_OK) {
		tokenizer_free(t);
		return rc;
	}
	*out = t;
	return QT_OK;
}

void tokenizer_free(struct tokenizer *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	while (t->scratch_list) {
		struct tk_scratch *s = t->scratch_list;
		t->scratch_list = s->link_next;
		tk_scratch_destroy(s);
	}
	pthread_mutex_unlock(&t->lock);
	pthread_key_delete(t->key);
	pthread_mutex_destroy(&t->lock);
	tk_model_free(t);
	tk_pretok_free(t);
	tk_added_free(t);
	tk_normalizer_free(t);
	tk_decoder_free(t);
	tk_postproc_free(t);
	free(t->id_str);
	free(t->id_len);
	free(t->id_flags);
	free(t);
}

char *tokenizer_path_in_dir(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return strdup(path);
	char *j = qt_path_join(path, "tokenizer.json"), *m = qt_path_join(path, "tokenizer.model");
	if (j && m && stat(j, &sb) != 0 && stat(m, &sb) == 0) {
		free(j);
		return m;
	}
	free(m);
	return j;
}

/* ---- accessors ---- */

int64_t tokenizer_token_id(const struct tokenizer *t, const char *content)
{
	size_t n = strlen(content);
	for (uint32_t i = 0; i < t->n_added; i++)
		if (t->added[i].len == n && memcmp(t->added[i].content, content, n) == 0)
			return t->added[i].id;
	uint32_t id = tk_strmap_get(&t->vocab, content, n);
	return id == TK_NONE ? -1 : (int64_t)id;
}

const char *tokenizer_token_str(const struct tokenizer *t, uint32_t id)
{
	return id < t->n_ids ? t->id_str[id] : NULL;
}

int tokenizer_is_special(const struct tokenizer *t, uint32_t id)
{
	for (uint32_t i = 0; i < t->n_added; i++)
		if (t->added[i].id == id)
			return t->added[i].special;
	return 0;
}

uint32_t tokenizer_vocab_size(const struct tokenizer *t)
{
	return t->n_ids;
}

uint64_t tokenizer_fingerprint(const struct tokenizer *t)
{
	return t->fingerprint;
}
