/* qlora-tools: ISC license. */
/* GGUF v3 writer; see gguf.h ("writing") and gguf(5). The reader is formats/gguf.c. */
#include "formats/gguf.h"

#include <stdlib.h>
#include <string.h>

#include "common/le.h"

void gguf_writer_init(struct gguf_writer *w)
{
	memset(w, 0, sizeof *w);
}

void gguf_writer_free(struct gguf_writer *w)
{
	if (w->is_open)
		qt_out_abort(&w->out);
	for (uint64_t i = 0; i < w->n_kv; i++)
		free(w->keys[i]);
	free(w->keys);
	free(w->kv);
	free(w->t);
	memset(w, 0, sizeof *w);
}

/* ---- key/value section ---- */

static int put(struct gguf_writer *w, const void *p, size_t n)
{
	if (w->oom)
		return -1;
	if (w->kv_len + n > w->kv_cap) {
		size_t cap = w->kv_cap ? w->kv_cap : 4096;
		while (cap < w->kv_len + n)
			cap *= 2;
		uint8_t *k = realloc(w->kv, cap);
		if (!k) {
			w->oom = 1;
			return -1;
		}
		w->kv = k;
		w->kv_cap = cap;
	}
	memcpy(w->kv + w->kv_len, p, n);
	w->kv_len += n;
	return 0;
}

static int put_u32(struct gguf_writer *w, uint32_t v)
{
	uint8_t b[4];
	le32_store(b, v);
	return put(w, b, 4);
}

static int put_u64(struct gguf_writer *w, uint64_t v)
{
	uint8_t b[8];
	le64_store(b, v);
	return put(w, b, 8);
}

static int put_str(struct gguf_writer *w, const char *s, size_t len)
{
	return put_u64(w, len) || put(w, s, len);
}

/* Starts a KV: checks the key and writes it with the value type. */
static int key(struct gguf_writer *w, const char *k, uint32_t type, struct qt_err *err)
{
	size_t len = strlen(k);
	if (len == 0)
		return qt_err_set(err, QT_EUSAGE, "gguf writer: empty key");
	for (uint64_t i = 0; i < w->n_kv; i++)
		if (strcmp(w->keys[i], k) == 0)
			return qt_err_set(err, QT_EUSAGE, "gguf writer: duplicate key \"%s\"", k);
	char **keys = realloc(w->keys, (w->n_kv + 1) * sizeof *keys);
	if (!keys)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	w->keys = keys;
	if (!(keys[w->n_kv] = strdup(k)))
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	w->n_kv++;
	if (put_str(w, k, len) || put_u32(w, type))
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	return QT_OK;
}

#define DONE(w, err) ((w)->oom ? qt_err_set(err, QT_ESOFTWARE, "out of memory") : QT_OK)

int gguf_writer_u32(struct gguf_writer *w, const char *k, uint32_t v, struct qt_err *err)
{
	int st = key(w, k, GGUF_VT_U32, err);
	return st ? st : (put_u32(w, v), DONE(w, err));
}

int gguf_writer_i32(struct gguf_writer *w, const char *k, int32_t v, struct qt_err *err)
{
	int st = key(w, k, GGUF_VT_I32, err);
	return st ? st : (put_u32(w, (uint32_t)v), DONE(w, err));
}

int gguf_writer_f32(struct gguf_writer *w, const char *k, float v, struct qt_err *err)
{
	uint8_t b[4];
	lef32_store(b, v);
	int st = key(w, k, GGUF_VT_F32, err);
	return st ? st : (put(w, b, 4), DONE(w, err));
}

int gguf_writer_bool(struct gguf_writer *w, const char *k, int v, struct qt_err *err)
{
	uint8_t b = v != 0;
	int st = key(w, k, GGUF_VT_BOOL, err);
	return st ? st : (put(w, &b, 1), DONE(w, err));
}

int gguf_writer_str(struct gguf_writer *w, const char *k, const char *s, size_t len,
                    struct qt_err *err)
{
	int st = key(w, k, GGUF_VT_STRING, err);
	return st ? st : (put_str(w, s, len), DONE(w, err));
}

int gguf_writer_arr_str(struct gguf_writer *w, const char *k, const char *const *s,
                        const size_t *len, uint64_t n, struct qt_err *err)
{
	int st = key(w, k, GGUF_VT_ARRAY, err);
	if (st)
		return st;
	put_u32(w, GGUF_VT_STRING);
	put_u64(w, n);
	for (uint64_t i = 0; i < n; i++)
		put_str(w, s[i], len ? len[i] : strlen(s[i]));
	return DONE(w, err);
}

int gguf_writer_arr_i32(struct gguf_writer *w, const char *k, const int32_t *v, uint64_t n,
                        struct qt_err *err)
{
	int st = key(w, k, GGUF_VT_ARRAY, err);
	if (st)
		return st;
	put_u32(w, GGUF_VT_I32);
	put_u64(w, n);
	for (uint64_t i = 0; i < n; i++)
		put_u32(w, (uint32_t)v[i]);
	return DONE(w, err);
}

int gguf_writer_arr_bool(struct gguf_writer *w, const char *k, const uint8_t *v, uint64_t n,
                         struct qt_err *err)
{
	int st = key(w, k, GGUF_VT_ARRAY, err);
	if (st)
		return st;
	put_u32(w, GGUF_VT_BOOL);
	put_u64(w, n);
	for (uint64_t i = 0; i < n; i++) {
		uint8_t b = v[i] != 0;
		put(w, &b, 1);
	}
	return DONE(w, err);
}

int gguf_writer_arr_f32(struct gguf_writer *w, const char *k, const float *v, uint64_t n,
                        struct qt_err *err)
{
	int st = key(w, k, GGUF_VT_ARRAY, err);
	if (st)
		return st;
	put_u32(w, GGUF_VT_F32);
	put_u64(w, n);
	for (uint64_t i = 0; i < n; i++) {
		uint8_t b[4];
		lef32_store(b, v[i]);
		put(w, b, 4);
	}
	return DONE(w, err);
}

/* ---- tensor infos and data ---- */

static uint64_t pad(uint64_t n)
{
	return (n + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
}

int gguf_writer_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims,
                       const uint64_t *ne, uint32_t type, struct qt_err *err)
{
	size_t len = strlen(name);
	if (len == 0 || len >= GGUF_MAX_NAME)
		return qt_err_set(err, QT_EUSAGE, "gguf writer: tensor name \"%s\" is not 1 to %d bytes",
		                  name, GGUF_MAX_NAME - 1);
	for (uint64_t i = 0; i < w->n_tensors; i++)
		if (strcmp(w->t[i].name, name) == 0)
			return qt_err_set(err, QT_EUSAGE, "gguf writer: duplicate tensor \"%s\"", name);
	const struct ggml_type_info *ti = ggml_type_get(type);
	if (!ti)
		return qt_err_set(err, QT_EUSAGE, "gguf writer: tensor \"%s\": unknown type %u", name, type);
	if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
		return qt_err_set(err, QT_EUSAGE, "gguf writer: tensor \"%s\": %u dimensions", name, n_dims);
	uint64_t n_elem = 1;
	for (uint32_t d = 0; d < n_dims; d++) {
		if (ne[d] == 0 || ne[d] > INT64_MAX / n_elem)
			return qt_err_set(err, QT_EUSAGE, "gguf writer: tensor \"%s\": bad shape", name);
		n_elem *= ne[d];
	}
	if (ne[0] % ti->blck)
		return qt_err_set(err, QT_EUSAGE, "gguf writer: tensor \"%s\": ne[0] = %llu is not a "
		                  "multiple of the %s block size %u", name, (unsigned long long)ne[0],
		                  ti->name, ti->blck);
	if (w->n_tensors == w->t_cap) {
		uint64_t cap = w->t_cap ? 2 * w->t_cap : 64;
		struct gguf_winfo *t = realloc(w->t, cap * sizeof *t);
		if (!t)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		w->t = t;
		w->t_cap = cap;
	}
	struct gguf_winfo *t = &w->t[w->n_tensors++];
	memset(t, 0, sizeof *t);
	memcpy(t->name, name, len + 1);
	t->n_dims = n_dims;
	for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
		t->ne[d] = d < n_dims ? ne[d] : 1;
	t->type = type;
	t->size = n_elem / ti->blck * ti->size;
	t->offset = w->data_size;
	w->data_size += pad(t->size);
	return QT_OK;
}

static const uint8_t zeros[GGUF_DEFAULT_ALIGNMENT];

int gguf_writer_open(struct gguf_writer *w, const char *path, struct qt_err *err)
{
	if (w->oom)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	int st = qt_out_open(&w->out, path, err);
	if (st != QT_OK)
		return st;
	w->is_open = 1;
	uint8_t h[24];
	memcpy(h, GGUF_MAGIC, 4);
	le32_store(h + 4, 3);
	le64_store(h + 8, w->n_tensors);
	le64_store(h + 16, w->n_kv);
	FILE *fp = w->out.fp;
	uint64_t pos = sizeof h + w->kv_len;
	if ((st = qt_write(fp, h, sizeof h, path, err)) ||
	    (st = qt_write(fp, w->kv, w->kv_len, path, err)))
		return st;
	for (uint64_t i = 0; i < w->n_tensors; i++) {
		const struct gguf_winfo *t = &w->t[i];
		uint8_t b[8 + GGUF_MAX_NAME + 4 + 8 * GGUF_MAX_DIMS + 4 + 8];
		size_t n = 0, len = strlen(t->name);
		le64_store(b, len);
		memcpy(b + 8, t->name, len);
		n = 8 + len;
		le32_store(b + n, t->n_dims);
		n += 4;
		for (uint32_t d = 0; d < t->n_dims; d++, n += 8)
			le64_store(b + n, t->ne[d]);
		le32_store(b + n, t->type);
		le64_store(b + n + 4, t->offset);
		n += 12;
		if ((st = qt_write(fp, b, n, path, err)))
			return st;
		pos += n;
	}
	return qt_write(fp, zeros, pad(pos) - pos, path, err);
}

const struct gguf_winfo *gguf_writer_next(const struct gguf_writer *w)
{
	return w->next < w->n_tensors ? &w->t[w->next] : NULL;
}

int gguf_writer_put(struct gguf_writer *w, const void *data, uint64_t size, struct qt_err *err)
{
	const struct gguf_winfo *t = gguf_writer_next(w);
	if (!w->is_open || !t || size != t->size)
		return qt_err_set(err, QT_EUSAGE, "gguf writer: tensor %s: %llu bytes given, %llu expected",
		                  t ? t->name : "(none left)", (unsigned long long)size,
		                  (unsigned long long)(t ? t->size : 0));
	int st = qt_write(w->out.fp, data, size, w->out.path, err);
	if (st == QT_OK)
		st = qt_write(w->out.fp, zeros, pad(size) - size, w->out.path, err);
	w->next++;
	return st;
}

int gguf_writer_commit(struct gguf_writer *w, struct qt_err *err)
{
	int st;
	if (!w->is_open || w->next != w->n_tensors) {
		st = qt_err_set(err, QT_EUSAGE, "gguf writer: %llu of %llu tensors written",
		                (unsigned long long)w->next, (unsigned long long)w->n_tensors);
	} else {
		w->is_open = 0;
		st = qt_out_commit(&w->out, err);
	}
	gguf_writer_free(w);
	return st;
}
