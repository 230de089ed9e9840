/* qlora-tools: ISC license. */
/*
 * NF4 model directories (nf4(5)): the quant_state JSON blob and the reader that turns one
 * quantized Linear into a struct nf4_weight. No arithmetic beyond calls into kernels/nf4.
 */
#include "formats/nf4.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "formats/hfconfig.h"
#include "kernels/nf4.h"

/* ---- the quant_state blob ---- */

static const char *dtype_torch_name(enum qt_dtype t)
{
	return t == QT_DTYPE_BF16 ? "bfloat16" : t == QT_DTYPE_F16 ? "float16" : "float32";
}

size_t nf4_state_format(const struct nf4_state *s, char *buf, size_t cap)
{
	int n = snprintf(buf, cap,
	                 "{\"quant_type\": \"nf4\", \"blocksize\": %zu, \"dtype\": \"%s\", "
	                 "\"shape\": [%lld, %lld]",
	                 s->blocksize, dtype_torch_name(s->dtype), (long long)s->rows,
	                 (long long)s->cols);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	size_t len = (size_t)n;
	if (s->nested) {
		char off[40];
		hf_format_double((double)s->nested_offset, off, sizeof off);
		n = snprintf(buf + len, cap - len,
		             ", \"nested_blocksize\": %zu, \"nested_dtype\": \"float32\", "
		             "\"nested_offset\": %s",
		             s->nested_blocksize, off);
		if (n < 0 || (size_t)n >= cap - len)
			return 0;
		len += (size_t)n;
	}
	if (len + 2 > cap)
		return 0;
	buf[len++] = '}';
	buf[len] = '\0';
	return len;
}

static int get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *v)
{
	json_t *x = json_object_get(o, key);
	if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi)
		return -1;
	*v = json_integer_value(x);
	return 0;
}

int nf4_state_parse(const char *text, size_t len, const char *name, struct nf4_state *s,
                    struct qt_err *err)
{
	memset(s, 0, sizeof *s);
	json_error_t je;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		return qt_err_set(err, QT_EDATA, "%s: quant_state is not a JSON object", name);
	}
	int st = QT_EDATA;
	const char *qt = json_string_value(json_object_get(o, "quant_type"));
	const char *dt = json_string_value(json_object_get(o, "dtype"));
	json_t *shape = json_object_get(o, "shape");
	int64_t bs, r, c, nbs;
	if (!qt || strcmp(qt, "nf4")) {
		qt_err_set(err, st, "%s: quant_type %s (only nf4 is supported)", name, qt ? qt : "missing");
		goto out;
	}
	if (get_int(o, "blocksize", 1, 4096, &bs) || !nf4_blocksize_ok((long)bs)) {
		qt_err_set(err, st, "%s: blocksize missing or not one of 32, 64, ..., 4096", name);
		goto out;
	}
	if (!dt || (strcmp(dt, "bfloat16") && strcmp(dt, "float16") && strcmp(dt, "float32"))) {
		qt_err_set(err, st, "%s: dtype %s (bfloat16, float16 or float32 expected)", name,
		           dt ? dt : "missing");
		goto out;
	}
	if (!json_is_array(shape) || json_array_size(shape) != 2 ||
	    !json_is_integer(json_array_get(shape, 0)) || !json_is_integer(json_array_get(shape, 1)) ||
	    (r = json_integer_value(json_array_get(shape, 0))) <= 0 ||
	    (c = json_integer_value(json_array_get(shape, 1))) <= 0 || r > (1ll << 31) ||
	    c > (1ll << 31)) {
		qt_err_set(err, st, "%s: shape is not a 2-D list of positive sizes", name);
		goto out;
	}
	s->blocksize = (size_t)bs;
	s->dtype = !strcmp(dt, "bfloat16") ? QT_DTYPE_BF16 : !strcmp(dt, "float16") ? QT_DTYPE_F16
	                                                                             : QT_DTYPE_F32;
	s->rows = r;
	s->cols = c;
	json_t *off = json_object_get(o, "nested_offset");
	if (json_object_get(o, "nested_blocksize") || off) {
		const char *nd = json_string_value(json_object_get(o, "nested_dtype"));
		if (get_int(o, "nested_blocksize", 1, 1 << 20, &nbs) || !json_is_number(off) ||
		    (nd && strcmp(nd, "float32"))) {
			qt_err_set(err, st, "%s: bad nested_blocksize, nested_dtype or nested_offset", name);
			goto out;
		}
		s->nested = 1;
		s->nested_blocksize = (size_t)nbs;
		s->nested_offset = (float)json_number_value(off);
	}
	st = QT_OK;
out:
	json_decref(o);
	return st;
}

/* ---- reading one weight ---- */

static const struct st_tensor *find(const struct st_set *set, const char *prefix,
                                    const char *suffix)
{
	char name[512];
	if ((size_t)snprintf(name, sizeof name, "%s%s", prefix, suffix) >= sizeof name)
		return NULL;
	return st_set_find(set, name);
}

int nf4_weight_present(const struct st_set *set, const char *prefix)
{
	return find(set, prefix, NF4_STATE_SUFFIX) != NULL;
}

/* Checks that prefix+suffix exists with dtype and n elements. */
static const struct st_tensor *need(const struct st_set *set, const char *prefix,
                                    const char *suffix, enum qt_dtype dt, uint64_t n,
                                    struct qt_err *err)
{
	const struct st_tensor *t = find(set, prefix, suffix);
	if (!t)
		qt_err_set(err, QT_EDATA, "%s%s: tensor missing", prefix, suffix);
	else if (t->dtype != dt || t->n_elem != n)
		qt_err_set(err, QT_EDATA, "%s%s: %s with %llu elements (%s with %llu expected)", prefix,
		           suffix, qt_dtype_name(t->dtype), (unsigned long long)t->n_elem,
		           qt_dtype_name(dt), (unsigned long long)n);
	else
		return t;
	return NULL;
}

int nf4_weight_load(const struct st_set *set, const char *prefix, struct nf4_weight *w,
                    struct qt_err *err)
{
	memset(w, 0, sizeof *w);
	const struct st_tensor *blob = find(set, prefix, NF4_STATE_SUFFIX);
	if (!blob)
		return qt_err_set(err, QT_EDATA, "%s%s: tensor missing", prefix, NF4_STATE_SUFFIX);
	char name[512];
	snprintf(name, sizeof name, "%s%s", prefix, NF4_STATE_SUFFIX);
	if (blob->dtype != QT_DTYPE_U8 || blob->size > NF4_MAX_BLOB)
		return qt_err_set(err, QT_EDATA, "%s: not a U8 tensor of at most %d bytes", name,
		                  NF4_MAX_BLOB);
	int st = nf4_state_parse(blob->data, blob->size, name, &w->state, err);
	if (st)
		return st;
	uint64_t n = (uint64_t)w->state.rows * (uint64_t)w->state.cols;
	size_t nb = nf4_n_blocks(n, w->state.blocksize);
	const struct st_tensor *t, *qm, *am, *nabs = NULL, *nqm = NULL;
	if (!(t = need(set, prefix, ".weight", QT_DTYPE_U8, nf4_packed_bytes(n), err)) ||
	    !(qm = need(set, prefix, ".weight.quant_map", QT_DTYPE_F32, 16, err)) ||
	    !(am = need(set, prefix, ".weight.absmax",
	                w->state.nested ? QT_DTYPE_U8 : QT_DTYPE_F32, nb, err)))
		return QT_EDATA;
	if (w->state.nested &&
	    (!(nabs = need(set, prefix, ".weight.nested_absmax", QT_DTYPE_F32,
	                   nf4_n_blocks(nb, w->state.nested_blocksize), err)) ||
	     !(nqm = need(set, prefix, ".weight.nested_quant_map", QT_DTYPE_F32, 256, err))))
		return QT_EDATA;
	w->packed = t->data;
	w->n_blocks = nb;
	w->absmax = malloc((nb ? nb : 1) * sizeof(float));
	float *tmp = NULL, *map = NULL;
	if (!w->absmax)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	st = st_tensor_to_f32(qm, w->code, err);
	if (st == QT_OK && !w->state.nested) {
		st = st_tensor_to_f32(am, w->absmax, err);
	} else if (st == QT_OK) {
		tmp = malloc(nabs->n_elem * sizeof(float) + sizeof(float));
		map = malloc(256 * sizeof(float));
		if (!tmp || !map)
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		if (st == QT_OK)
			st = st_tensor_to_f32(nabs, tmp, err);
		if (st == QT_OK)
			st = st_tensor_to_f32(nqm, map, err);
		if (st == QT_OK)
			nf4_double_dequant(am->data, nb, tmp, map, w->state.nested_blocksize,
			                   w->state.nested_offset, w->absmax);
	}
	free(tmp);
	free(map);
	/* the weights are code * absmax: a non-finite scale makes a whole block so */
	size_t bad = st ? 0 : qt_first_nonfinite(w->absmax, QT_DTYPE_F32, nb);
	if (st == QT_OK && bad < nb)
		st = qt_err_set(err, QT_EDATA, "tensor %s: absmax of block %zu is not finite (%g)",
		                prefix, bad, (double)w->absmax[bad]);
	if (st == QT_OK && (bad = qt_first_nonfinite(w->code, QT_DTYPE_F32, 16)) < 16)
		st = qt_err_set(err, QT_EDATA, "tensor %s: code %zu is not finite", prefix, bad);
	if (st != QT_OK)
		nf4_weight_free(w);
	return st;
}

void nf4_weight_free(struct nf4_weight *w)
{
	free(w->absmax);
	w->absmax = NULL;
}

void nf4_weight_rows(const struct nf4_weight *w, int64_t r0, int64_t r1, float *out)
{
	nf4_dequantize_rows(w->packed, w->absmax, w->code, w->state.blocksize,
	                    (size_t)w->state.cols, (size_t)r0, (size_t)r1, out);
}
