/* qlora-tools: ISC license. */
/* GGUF reader; see gguf.h and gguf(5). */
#include "formats/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"

/* ---- ggml types (gguf-py constants.py GGML_QUANT_SIZES) ---- */

static const struct ggml_type_info type_info[GGML_TYPE_COUNT] = {
	[0]  = { "F32", 1, 4 },       [1]  = { "F16", 1, 2 },
	[2]  = { "Q4_0", 32, 18 },    [3]  = { "Q4_1", 32, 20 },
	[6]  = { "Q5_0", 32, 22 },    [7]  = { "Q5_1", 32, 24 },
	[8]  = { "Q8_0", 32, 34 },    [9]  = { "Q8_1", 32, 36 },
	[10] = { "Q2_K", 256, 84 },   [11] = { "Q3_K", 256, 110 },
	[12] = { "Q4_K", 256, 144 },  [13] = { "Q5_K", 256, 176 },
	[14] = { "Q6_K", 256, 210 },  [15] = { "Q8_K", 256, 292 },
	[16] = { "IQ2_XXS", 256, 66 },[17] = { "IQ2_XS", 256, 74 },
	[18] = { "IQ3_XXS", 256, 98 },[19] = { "IQ1_S", 256, 50 },
	[20] = { "IQ4_NL", 32, 18 },  [21] = { "IQ3_S", 256, 110 },
	[22] = { "IQ2_S", 256, 82 },  [23] = { "IQ4_XS", 256, 136 },
	[24] = { "I8", 1, 1 },        [25] = { "I16", 1, 2 },
	[26] = { "I32", 1, 4 },       [27] = { "I64", 1, 8 },
	[28] = { "F64", 1, 8 },       [29] = { "IQ1_M", 256, 56 },
	[30] = { "BF16", 1, 2 },      [34] = { "TQ1_0", 256, 54 },
	[35] = { "TQ2_0", 256, 66 },  [39] = { "MXFP4", 32, 17 },
	[40] = { "NVFP4", 64, 36 },   [41] = { "Q1_0", 128, 18 },
};

const struct ggml_type_info *ggml_type_get(uint32_t type)
{
	return type < GGML_TYPE_COUNT && type_info[type].name ? &type_info[type] : NULL;
}

/* ---- cursor over the mapping ---- */

struct cur {
	const uint8_t *d;
	uint64_t       size, pos;
	const char    *path;
	struct qt_err *err;
};

static int need(struct cur *c, uint64_t n, const char *what)
{
	if (n > c->size - c->pos)
		return qt_err_set(c->err, QT_EDATA, "%s: offset %llu: %s runs past the end of the file",
		                  c->path, (unsigned long long)c->pos, what);
	return QT_OK;
}

static int rd_u32(struct cur *c, uint32_t *v, const char *what)
{
	if (need(c, 4, what))
		return QT_EDATA;
	*v = le32_load(c->d + c->pos);
	c->pos += 4;
	return QT_OK;
}

static int rd_u64(struct cur *c, uint64_t *v, const char *what)
{
	if (need(c, 8, what))
		return QT_EDATA;
	*v = le64_load(c->d + c->pos);
	c->pos += 8;
	return QT_OK;
}

/* A gguf string: u64 length + bytes. */
static int rd_str(struct cur *c, const char **s, uint64_t *len, const char *what)
{
	if (rd_u64(c, len, what) || need(c, *len, what))
		return QT_EDATA;
	*s = (const char *)c->d + c->pos;
	c->pos += *len;
	return QT_OK;
}

static const uint8_t vt_size[GGUF_VT_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

/* Decodes a scalar of type t at p. */
static void scalar(uint32_t t, const uint8_t *p, struct gguf_value *v)
{
	switch (t) {
	case GGUF_VT_U8: case GGUF_VT_BOOL: v->u = p[0]; break;
	case GGUF_VT_I8:  v->i = (int8_t)p[0]; break;
	case GGUF_VT_U16: v->u = le16_load(p); break;
	case GGUF_VT_I16: v->i = (int16_t)le16_load(p); break;
	case GGUF_VT_U32: v->u = le32_load(p); break;
	case GGUF_VT_I32: v->i = (int32_t)le32_load(p); break;
	case GGUF_VT_F32: v->f = lef32_load(p); break;
	case GGUF_VT_U64: v->u = le64_load(p); break;
	case GGUF_VT_I64: v->i = (int64_t)le64_load(p); break;
	case GGUF_VT_F64: { uint64_t u = le64_load(p); memcpy(&v->f, &u, 8); break; }
	}
}

/* Skips (validating) an array body of n elements of type t; depth counts nesting. */
static int skip_array(struct cur *c, uint32_t t, uint64_t n, int depth, const char *key)
{
	if (t >= GGUF_VT_COUNT)
		return qt_err_set(c->err, QT_EDATA, "%s: offset %llu: key \"%s\": unknown array element "
		                  "type %u", c->path, (unsigned long long)c->pos, key, t);
	if (t == GGUF_VT_STRING) {
		if (n > (c->size - c->pos) / 8)
			return need(c, UINT64_MAX, "array of strings");
		for (uint64_t i = 0; i < n; i++) {
			const char *s;
			uint64_t l;
			if (rd_str(c, &s, &l, "array string"))
				return QT_EDATA;
		}
		return QT_OK;
	}
	if (t == GGUF_VT_ARRAY) {
		if (depth >= GGUF_MAX_DEPTH)
			return qt_err_set(c->err, QT_EDATA, "%s: offset %llu: key \"%s\": arrays nested "
			                  "deeper than %d", c->path, (unsigned long long)c->pos, key,
			                  GGUF_MAX_DEPTH);
		if (n > (c->size - c->pos) / 12)
			return need(c, UINT64_MAX, "array of arrays");
		for (uint64_t i = 0; i < n; i++) {
			uint32_t et;
			uint64_t en;
			if (rd_u32(c, &et, "array type") || rd_u64(c, &en, "array length") ||
			    skip_array(c, et, en, depth + 1, key))
				return QT_EDATA;
		}
		return QT_OK;
	}
	if (n > (c->size - c->pos) / vt_size[t])
		return need(c, UINT64_MAX, "array");
	c->pos += n * vt_size[t];
	return QT_OK;
}

static int parse_value(struct cur *c, struct gguf_kv *kv)
{
	struct gguf_value *v = &kv->v;
	uint64_t at = c->pos;
	if (rd_u32(c, &v->type, "value type"))
		return QT_EDATA;
	if (v->type >= GGUF_VT_COUNT)
		return qt_err_set(c->err, QT_EDATA, "%s: offset %llu: key \"%s\": unknown value type %u",
		                  c->path, (unsigned long long)at, kv->key, v->type);
	if (v->type == GGUF_VT_STRING)
		return rd_str(c, &v->str, &v->len, "string value");
	if (v->type != GGUF_VT_ARRAY) {
		if (need(c, vt_size[v->type], "value"))
			return QT_EDATA;
		scalar(v->type, c->d + c->pos, v);
		c->pos += vt_size[v->type];
		if (v->type == GGUF_VT_BOOL && v->u > 1)
			return qt_err_set(c->err, QT_EDATA, "%s: offset %llu: key \"%s\": bool value %llu",
			                  c->path, (unsigned long long)at, kv->key, (unsigned long long)v->u);
		return QT_OK;
	}
	if (rd_u32(c, &v->arr_type, "array type") || rd_u64(c, &v->len, "array length"))
		return QT_EDATA;
	v->arr = c->d + c->pos;
	if (v->arr_type == GGUF_VT_STRING && v->len <= (c->size - c->pos) / 8) {
		v->str_off = malloc((v->len + 1) * sizeof *v->str_off);
		if (!v->str_off)
			return qt_err_set(c->err, QT_ESOFTWARE, "out of memory");
		uint64_t start = c->pos;
		for (uint64_t i = 0; i < v->len; i++) {
			const char *s;
			uint64_t l;
			v->str_off[i] = c->pos - start;
			if (rd_str(c, &s, &l, "array string"))
				return QT_EDATA;
		}
		return QT_OK;
	}
	return skip_array(c, v->arr_type, v->len, 1, kv->key);
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp((*(const struct gguf_kv *const *)a)->key, (*(const struct gguf_kv *const *)b)->key);
}

static int cmp_tensor(const void *a, const void *b)
{
	return strcmp((*(const struct gguf_tensor *const *)a)->name,
	              (*(const struct gguf_tensor *const *)b)->name);
}

/* Reports the first duplicate among n named items (sorted copy); key_of gives the name. */
static int check_unique(struct gguf_file *g, int tensors, struct qt_err *err)
{
	size_t n = tensors ? g->n_tensors : g->n_kv;
	const void **v = malloc((n + 1) * sizeof *v);
	if (!v)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (size_t i = 0; i < n; i++)
		v[i] = tensors ? (const void *)&g->tensors[i] : (const void *)&g->kv[i];
	qsort(v, n, sizeof *v, tensors ? cmp_tensor : cmp_kv);
	int st = QT_OK;
	for (size_t i = 1; i < n && st == QT_OK; i++) {
		const char *a = tensors ? ((const struct gguf_tensor *)v[i])->name
		                        : ((const struct gguf_kv *)v[i])->key;
		const char *b = tensors ? ((const struct gguf_tensor *)v[i - 1])->name
		                        : ((const struct gguf_kv *)v[i - 1])->key;
		if (strcmp(a, b) == 0)
			st = qt_err_set(err, QT_EDATA, "%s: duplicate %s \"%s\"", g->path,
			                tensors ? "tensor" : "key", a);
	}
	free(v);
	return st;
}

static int parse_tensor(struct cur *c, struct gguf_file *g, struct gguf_tensor *t)
{
	uint64_t at = c->pos, len;
	const char *s;
	if (rd_str(c, &s, &len, "tensor name"))
		return QT_EDATA;
	if (len == 0 || len >= GGUF_MAX_NAME || memchr(s, 0, len))
		return qt_err_set(c->err, QT_EDATA, "%s: offset %llu: tensor name of %llu bytes (1 to %d "
		                  "without NUL)", g->path, (unsigned long long)at,
		                  (unsigned long long)len, GGUF_MAX_NAME - 1);
	memcpy(t->name, s, len);
	t->name[len] = '\0';
	at = c->pos;
	if (rd_u32(c, &t->n_dims, "tensor dims"))
		return QT_EDATA;
	if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
		return qt_err_set(c->err, QT_EDATA, "%s: offset %llu: tensor \"%s\": %u dimensions (1 to "
		                  "%d)", g->path, (unsigned long long)at, t->name, t->n_dims, GGUF_MAX_DIMS);
	t->n_elem = 1;
	for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
		t->ne[d] = 1;
		if (d < t->n_dims && rd_u64(c, &t->ne[d], "tensor shape"))
			return QT_EDATA;
		if (t->ne[d] == 0 || t->ne[d] > INT64_MAX || t->n_elem > INT64_MAX / t->ne[d])
			return qt_err_set(c->err, QT_EDATA, "%s: tensor \"%s\": ne[%u] = %llu is zero or "
			                  "overflows", g->path, t->name, d, (unsigned long long)t->ne[d]);
		t->n_elem *= t->ne[d];
	}
	at = c->pos;
	if (rd_u32(c, &t->type, "tensor type"))
		return QT_EDATA;
	const struct ggml_type_info *ti = ggml_type_get(t->type);
	if (!ti)
		return qt_err_set(c->err, QT_EDATA, "%s: offset %llu: tensor \"%s\": unknown ggml type %u",
		                  g->path, (unsigned long long)at, t->name, t->type);
	if (t->ne[0] % ti->blck)
		return qt_err_set(c->err, QT_EDATA, "%s: tensor \"%s\": ne[0] = %llu is not a multiple of "
		                  "the %s block size %u", g->path, t->name, (unsigned long long)t->ne[0],
		                  ti->name, ti->blck);
	t->size = t->n_elem / ti->blck * ti->size;
	return rd_u64(c, &t->offset, "tensor offset");
}

int gguf_open(struct gguf_file *g, const char *path, struct qt_err *err)
{
	memset(g, 0, sizeof *g);
	g->path = strdup(path);
	if (!g->path)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	int st = qt_map_file(path, &g->map, err);
	if (st != QT_OK) {
		free(g->path);
		g->path = NULL;
		return st;
	}
	struct cur c = { g->map.data, g->map.size, 0, path, err };
	st = QT_EDATA;
	if (c.size < 24) {
		qt_err_set(err, QT_EDATA, "%s: offset 0: file is %llu bytes, too short for a GGUF header",
		           path, (unsigned long long)c.size);
		goto fail;
	}
	if (memcmp(c.d, GGUF_MAGIC, 4) != 0) {
		qt_err_set(err, QT_EDATA, "%s: offset 0: bad magic %02x %02x %02x %02x (expected \"GGUF\")",
		           path, c.d[0], c.d[1], c.d[2], c.d[3]);
		goto fail;
	}
	c.pos = 4;
	rd_u32(&c, &g->version, "version");
	if (g->version == 0x02000000u || g->version == 0x03000000u) {
		qt_err_set(err, QT_EDATA, "%s: offset 4: big-endian GGUF file (version %u byte-swapped); "
		           "only little-endian files are supported", path, g->version >> 24);
		goto fail;
	}
	if (g->version != 2 && g->version != 3) {
		qt_err_set(err, QT_EDATA, "%s: offset 4: GGUF version %u is not supported (2, 3)", path,
		           g->version);
		goto fail;
	}
	rd_u64(&c, &g->n_tensors, "tensor count");
	rd_u64(&c, &g->n_kv, "kv count");
	/* smallest encodings: a KV is 8 + 1 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 8 + 4 + 8 */
	if (g->n_kv > (c.size - c.pos) / 14) {
		qt_err_set(err, QT_EDATA, "%s: offset 16: kv count %llu cannot fit in the file", path,
		           (unsigned long long)g->n_kv);
		goto fail;
	}
	if (g->n_tensors > (c.size - c.pos) / 33) {
		qt_err_set(err, QT_EDATA, "%s: offset 8: tensor count %llu cannot fit in the file", path,
		           (unsigned long long)g->n_tensors);
		goto fail;
	}
	g->kv = calloc(g->n_kv + 1, sizeof *g->kv);
	g->tensors = calloc(g->n_tensors + 1, sizeof *g->tensors);
	if (!g->kv || !g->tensors) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto fail;
	}
	for (uint64_t i = 0; i < g->n_kv; i++) {
		struct gguf_kv *kv = &g->kv[i];
		uint64_t at = c.pos, len;
		const char *k;
		if (rd_str(&c, &k, &len, "key"))
			goto fail;
		if (len == 0 || memchr(k, 0, len)) {
			qt_err_set(err, QT_EDATA, "%s: offset %llu: key %llu is empty or holds a NUL byte",
			           path, (unsigned long long)at, (unsigned long long)i);
			goto fail;
		}
		kv->key = strndup(k, len);
		if (!kv->key) {
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
			goto fail;
		}
		if ((st = parse_value(&c, kv)) != QT_OK)
			goto fail;
		kv->raw = c.d + at;
		kv->raw_len = c.pos - at;
		st = QT_EDATA;
	}
	if (check_unique(g, 0, err))
		goto fail;
	g->alignment = GGUF_DEFAULT_ALIGNMENT;
	const struct gguf_kv *al = gguf_find(g, "general.alignment");
	if (al) {
		if (al->v.type != GGUF_VT_U32 || al->v.u == 0 || (al->v.u & (al->v.u - 1))) {
			qt_err_set(err, QT_EDATA, "%s: general.alignment: expected a u32 power of two", path);
			goto fail;
		}
		g->alignment = (uint32_t)al->v.u;
	}
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (parse_tensor(&c, g, &g->tensors[i]))
			goto fail;
	if (check_unique(g, 1, err))
		goto fail;
	g->data_offset = (c.pos + g->alignment - 1) / g->alignment * g->alignment;
	if (g->data_offset > c.size && g->n_tensors) {
		qt_err_set(err, QT_EDATA, "%s: offset %llu: data section starts past the end of the file",
		           path, (unsigned long long)g->data_offset);
		goto fail;
	}
	uint64_t expect = 0, avail = c.size > g->data_offset ? c.size - g->data_offset : 0;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		struct gguf_tensor *t = &g->tensors[i];
		if (t->offset != expect) {
			qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": data offset %llu, expected %llu (tensors "
			           "are stored in info order, each padded to %u bytes)", path, t->name,
			           (unsigned long long)t->offset, (unsigned long long)expect, g->alignment);
			goto fail;
		}
		if (t->size > avail || t->offset > avail - t->size) {
			qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": data (%llu bytes at data offset %llu) "
			           "runs past the end of the file", path, t->name,
			           (unsigned long long)t->size, (unsigned long long)t->offset);
			goto fail;
		}
		t->data = c.d + g->data_offset + t->offset;
		expect = t->offset + (t->size + g->alignment - 1) / g->alignment * g->alignment;
	}
	return QT_OK;
fail:
	gguf_close(g);
	return err ? err->status : st;
}

void gguf_close(struct gguf_file *g)
{
	if (g->kv)
		for (uint64_t i = 0; i < g->n_kv; i++) {
			free(g->kv[i].key);
			free(g->kv[i].v.str_off);
		}
	free(g->kv);
	free(g->tensors);
	free(g->path);
	qt_unmap(&g->map);
	memset(g, 0, sizeof *g);
}

/* ---- access ---- */

const struct gguf_kv *gguf_find(const struct gguf_file *g, const char *key)
{
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (g->kv[i].key && strcmp(g->kv[i].key, key) == 0)
			return &g->kv[i];
	return NULL;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *g, const char *name)
{
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (strcmp(g->tensors[i].name, name) == 0)
			return &g->tensors[i];
	return NULL;
}

static int is_signed(uint32_t t)
{
	return t == GGUF_VT_I8 || t == GGUF_VT_I16 || t == GGUF_VT_I32 || t == GGUF_VT_I64;
}

static int is_unsigned(uint32_t t)
{
	return t == GGUF_VT_U8 || t == GGUF_VT_U16 || t == GGUF_VT_U32 || t == GGUF_VT_U64;
}

int gguf_get_int(const struct gguf_file *g, const char *key, int64_t *out, struct qt_err *err)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv)
		return 1;
	if (is_signed(kv->v.type)) {
		*out = kv->v.i;
	} else if (is_unsigned(kv->v.type) && kv->v.u <= INT64_MAX) {
		*out = (int64_t)kv->v.u;
	} else {
		return qt_err_set(err, QT_EDATA, "%s: %s: expected an integer", g->path, key);
	}
	return QT_OK;
}

int gguf_get_float(const struct gguf_file *g, const char *key, double *out, struct qt_err *err)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv)
		return 1;
	if (kv->v.type == GGUF_VT_F32 || kv->v.type == GGUF_VT_F64)
		*out = kv->v.f;
	else if (is_signed(kv->v.type))
		*out = (double)kv->v.i;
	else if (is_unsigned(kv->v.type))
		*out = (double)kv->v.u;
	else
		return qt_err_set(err, QT_EDATA, "%s: %s: expected a number", g->path, key);
	return QT_OK;
}

int gguf_get_bool(const struct gguf_file *g, const char *key, int *out, struct qt_err *err)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv)
		return 1;
	if (kv->v.type != GGUF_VT_BOOL)
		return qt_err_set(err, QT_EDATA, "%s: %s: expected a bool", g->path, key);
	*out = kv->v.u != 0;
	return QT_OK;
}

int gguf_get_str(const struct gguf_file *g, const char *key, char **out, struct qt_err *err)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	if (!kv)
		return 1;
	if (kv->v.type != GGUF_VT_STRING || memchr(kv->v.str, 0, kv->v.len))
		return qt_err_set(err, QT_EDATA, "%s: %s: expected a string", g->path, key);
	*out = strndup(kv->v.str, kv->v.len);
	if (!*out)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	return QT_OK;
}

const char *gguf_arr_str(const struct gguf_value *v, uint64_t i, uint64_t *len)
{
	const uint8_t *p = v->arr + v->str_off[i];
	*len = le64_load(p);
	return (const char *)p + 8;
}

int64_t gguf_arr_int(const struct gguf_value *v, uint64_t i)
{
	struct gguf_value e;
	uint32_t t = v->arr_type;
	scalar(t, v->arr + i * vt_size[t], &e);
	return is_signed(t) ? e.i : (int64_t)e.u;
}
