/* qlora-tools: ISC license. */
/*
 * Shared by the tokenizer golden tests (test_tokenizer.c, test_tokenizer_llamacpp.c): the
 * corpus (one JSON string per line), the varint golden files of tests/ref/tokenizer_golden.py
 * and tests/ref/llamacpp_tokenizer.py.
 */
#ifndef QT_TESTS_TOKGOLD_H
#define QT_TESTS_TOKGOLD_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "formats/tokenizer.h"
#include "test.h"

struct item { char *s; size_t n; };

/* Appends the JSON strings of file (one per line) to *it. */
static inline int load_lines(const char *file, struct item **itp, size_t *count, size_t *cap)
{
	char path[4096], *buf;
	size_t len, n = *count;
	struct qt_err err;
	struct item *it = *itp;
	snprintf(path, sizeof path, "%s/%s", test_srcdir(), file);
	if (qt_read_file(path, &buf, &len, &err) != QT_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	for (char *p = buf, *e; p < buf + len; p = e + 1) {
		e = memchr(p, '\n', (size_t)(buf + len - p));
		if (!e)
			e = buf + len;
		json_error_t je;
		json_t *j = json_loadb(p, (size_t)(e - p), JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		if (!json_is_string(j)) {
			fprintf(stderr, "corpus line %zu: %s\n", n + 1, je.text);
			exit(1);
		}
		if (n == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			it = realloc(it, *cap * sizeof *it);
		}
		it[n].n = json_string_length(j);
		it[n].s = malloc(it[n].n + 1);
		memcpy(it[n].s, json_string_value(j), it[n].n + 1);
		n++;
		json_decref(j);
	}
	free(buf);
	*count = n;
	*itp = it;
	return 0;
}

struct reader { const unsigned char *p, *end; int bad; };

static inline uint64_t varint(struct reader *r)
{
	uint64_t v = 0;
	for (int sh = 0; r->p < r->end && sh < 64; sh += 7) {
		unsigned b = *r->p++;
		v |= (uint64_t)(b & 0x7F) << sh;
		if (!(b & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static inline void read_ids(struct reader *r, struct tok_ids *ids)
{
	ids->n = 0;
	uint64_t n = varint(r);
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		if (ids->n == ids->cap) {
			ids->cap = ids->cap ? ids->cap * 2 : 256;
			ids->v = realloc(ids->v, ids->cap * sizeof *ids->v);
		}
		ids->v[ids->n++] = (uint32_t)varint(r);
	}
}

static inline const char *read_str(struct reader *r, size_t *n)
{
	*n = (size_t)varint(r);
	if ((size_t)(r->end - r->p) < *n) {
		r->bad = 1;
		return "";
	}
	const char *s = (const char *)r->p;
	r->p += *n;
	return s;
}

static inline int same_ids(const struct tok_ids *a, const struct tok_ids *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

/* ---- the SentencePiece fixture's variants (tests/ref/tokenizer_spm.py) ---- */

/* Writes the base tokenizer.json with the variant's edits (each must occur once) to path. */
/* The tokenizer.json of data/tokenizer/DIR with the textual edits applied, written to path. */
static inline int make_variant_in(const char *dir, json_t *edits, const char *path)
{
	char src[4096], *buf;
	size_t len;
	struct qt_err err;
	snprintf(src, sizeof src, "%s/data/tokenizer/%s/tokenizer.json", test_srcdir(), dir);
	if (qt_read_file(src, &buf, &len, &err) != QT_OK)
		return -1;
	for (size_t k = 0; k < json_array_size(edits); k++) {
		json_t *e = json_array_get(edits, k);
		const char *a = json_string_value(json_array_get(e, 0));
		const char *b = json_string_value(json_array_get(e, 1));
		size_t al = strlen(a), bl = strlen(b);
		char *at = memmem(buf, len, a, al);
		if (!at || memmem(at + 1, len - (size_t)(at + 1 - buf), a, al)) {
			fprintf(stderr, "edit %zu: not exactly once\n", k);
			free(buf);
			return -1;
		}
		char *nb = malloc(len - al + bl);
		size_t pre = (size_t)(at - buf);
		memcpy(nb, buf, pre);
		memcpy(nb + pre, b, bl);
		memcpy(nb + pre + bl, at + al, len - pre - al);
		free(buf);
		buf = nb;
		len = len - al + bl;
	}
	FILE *f = fopen(path, "wb");
	int rc = f && fwrite(buf, 1, len, f) == len ? 0 : -1;
	if (f && fclose(f) != 0)
		rc = -1;
	free(buf);
	return rc;
}

static inline int make_variant(json_t *edits, const char *path)
{
	return make_variant_in("spm", edits, path);
}

/* Loads variant name of tests/data/tokenizer/spm (its edits in variants.json). */
static inline int load_spm_variant(const char *name, struct tokenizer **t, struct qt_err *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/data/tokenizer/spm/variants.json", test_srcdir());
	json_error_t je;
	json_t *v = json_load_file(path, 0, &je);
	json_t *edits = json_object_get(v, name);
	*t = NULL;
	snprintf(path, sizeof path, "/tmp/tokgold_spm.%d.json", (int)getpid());
	int rc = edits && make_variant(edits, path) == 0 ? tokenizer_load(path, t, err) : -1;
	unlink(path);
	json_decref(v);
	return rc;
}

#endif
