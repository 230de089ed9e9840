/* qlora-tools: ISC license. */
/* safetensors reader, writer and sharded sets; see safetensors.h and safetensors(5). */
#include "formats/safetensors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "common/le.h"

/* ---- reading ---- */

static int cmp_tensor_name(const void *a, const void *b)
{
	return strcmp(((const struct st_tensor *)a)->name, ((const struct st_tensor *)b)->name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
	const struct st_tensor *x = *(const struct st_tensor *const *)a;
	const struct st_tensor *y = *(const struct st_tensor *const *)b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	/* zero-sized tensors sort before a tensor starting at the same offset */
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Reads a non-negative integer JSON value into *out; 0 on success. */
static int get_u64(json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* Parses one tensor entry; the name is already stored in t->name. */
static int parse_entry(struct st_file *f, struct st_tensor *t, json_t *o, struct qt_err *err)
{
	const char *p = f->path, *nm = t->name;
	if (!json_is_object(o))
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": entry is not an object", p, nm);
	json_t *dt = json_object_get(o, "dtype"), *sh = json_object_get(o, "shape");
	json_t *off = json_object_get(o, "data_offsets");
	if (!json_is_string(dt))
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": missing or non-string dtype", p, nm);
	int d = qt_dtype_parse(json_string_value(dt));
	if (d < 0)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": unsupported dtype \"%s\"", p, nm,
		                  json_string_value(dt));
	t->dtype = (enum qt_dtype)d;
	if (!json_is_array(sh))
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": missing or non-array shape", p, nm);
	size_t nd = json_array_size(sh);
	if (nd > ST_MAX_DIMS)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": %zu dimensions (at most %d)", p, nm,
		                  nd, ST_MAX_DIMS);
	t->n_dims = (int)nd;
	uint64_t n_elem = 1;
	for (size_t i = 0; i < nd; i++) {
		uint64_t v;
		if (get_u64(json_array_get(sh, i), &v) != 0)
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": shape[%zu] is not a "
			                  "non-negative integer", p, nm, i);
		t->shape[i] = (int64_t)v;
		if (v && n_elem > UINT64_MAX / v)
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": shape overflows", p, nm);
		n_elem *= v;
	}
	t->n_elem = n_elem;
	uint64_t b, e;
	if (!json_is_array(off) || json_array_size(off) != 2 ||
	    get_u64(json_array_get(off, 0), &b) || get_u64(json_array_get(off, 1), &e))
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": data_offsets is not two "
		                  "non-negative integers", p, nm);
	if (e < b)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": data_offsets end %llu < begin %llu",
		                  p, nm, (unsigned long long)e, (unsigned long long)b);
	size_t es = qt_dtype_size(t->dtype);
	if (n_elem > UINT64_MAX / es || n_elem * es != e - b)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": data_offsets span %llu bytes but "
		                  "%s with %llu elements needs %llu", p, nm, (unsigned long long)(e - b),
		                  qt_dtype_name(t->dtype), (unsigned long long)n_elem,
		                  (unsigned long long)(n_elem * es));
	t->offset = b;
	t->size = e - b;
	return QT_OK;
}

static int parse_header(struct st_file *f, const char *hdr, size_t n, struct qt_err *err)
{
	const char *p = f->path;
	if (n == 0 || hdr[0] != '{')
		return qt_err_set(err, QT_EDATA, "%s: offset 8: header does not start with '{'", p);
	json_error_t je;
	json_t *root = json_loadb(hdr, n, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return qt_err_set(err, QT_EDATA, "%s: header JSON: %s (column %d)", p, je.text,
		                  je.column);
	int st = QT_OK;
	if (!json_is_object(root)) {
		st = qt_err_set(err, QT_EDATA, "%s: header JSON is not an object", p);
		goto out;
	}
	json_t *meta = json_object_get(root, "__metadata__");
	size_t n_all = json_object_size(root), n_t = n_all - (meta != NULL);
	size_t name_bytes = 0;
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val)
		name_bytes += strlen(key) + 1;
	f->tensors = calloc(n_t ? n_t : 1, sizeof *f->tensors);
	f->names = malloc(name_bytes + 1);
	if (meta) {
		if (!json_is_object(meta)) {
			st = qt_err_set(err, QT_EDATA, "%s: __metadata__ is not an object", p);
			goto out;
		}
		f->meta_keys = calloc(json_object_size(meta) + 1, sizeof(char *));
		f->meta_vals = calloc(json_object_size(meta) + 1, sizeof(char *));
	}
	if (!f->tensors || !f->names || (meta && (!f->meta_keys || !f->meta_vals))) {
		st = qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", p);
		goto out;
	}
	if (meta) {
		json_object_foreach(meta, key, val) {
			if (!json_is_string(val)) {
				st = qt_err_set(err, QT_EDATA, "%s: __metadata__ \"%s\" is not a string", p,
				                key);
				goto out;
			}
			f->meta_keys[f->n_meta] = strdup(key);
			f->meta_vals[f->n_meta] = strdup(json_string_value(val));
			if (!f->meta_keys[f->n_meta] || !f->meta_vals[f->n_meta]) {
				st = qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", p);
				goto out;
			}
			f->n_meta++;
		}
	}
	char *np = f->names;
	json_object_foreach(root, key, val) {
		if (val == meta)
			continue;
		struct st_tensor *t = &f->tensors[f->n_tensors++];
		size_t kl = strlen(key) + 1;
		memcpy(np, key, kl);
		t->name = np;
		np += kl;
		if ((st = parse_entry(f, t, val, err)) != QT_OK)
			goto out;
	}
out:
	json_decref(root);
	return st;
}

/* Offsets must tile [0, data size) exactly: no gap, no overlap, nothing after the last. */
static int check_layout(struct st_file *f, uint64_t data_size, struct qt_err *err)
{
	const struct st_tensor **by = malloc((f->n_tensors + 1) * sizeof *by);
	if (!by)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", f->path);
	for (size_t i = 0; i < f->n_tensors; i++)
		by[i] = &f->tensors[i];
	qsort(by, f->n_tensors, sizeof *by, cmp_tensor_offset);
	uint64_t end = 0;
	const char *prev = NULL;
	int st = QT_OK;
	for (size_t i = 0; i < f->n_tensors && st == QT_OK; i++) {
		const struct st_tensor *t = by[i];
		if (t->offset < end)
			st = qt_err_set(err, QT_EDATA, "%s: tensor \"%s\" (bytes %llu..%llu) overlaps "
			                "tensor \"%s\"", f->path, t->name, (unsigned long long)t->offset,
			                (unsigned long long)(t->offset + t->size), prev);
		else if (t->offset > end)
			st = qt_err_set(err, QT_EDATA, "%s: gap of %llu bytes before tensor \"%s\" at data "
			                "offset %llu", f->path, (unsigned long long)(t->offset - end),
			                t->name, (unsigned long long)t->offset);
		end = t->offset + t->size;
		prev = t->name;
	}
	if (st == QT_OK && end != data_size)
		st = qt_err_set(err, QT_EDATA, "%s: data section is %llu bytes but the tensors cover %llu",
		                f->path, (unsigned long long)data_size, (unsigned long long)end);
	free(by);
	return st;
}

int st_open(struct st_file *f, const char *path, struct qt_err *err)
{
	memset(f, 0, sizeof *f);
	f->path = strdup(path);
	if (!f->path)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	int st = qt_map_file(path, &f->map, err);
	if (st != QT_OK) {
		free(f->path);
		f->path = NULL;
		return st;
	}
	const uint8_t *d = f->map.data;
	size_t size = f->map.size;
	if (size < 8) {
		st = qt_err_set(err, QT_EDATA, "%s: offset 0: file is %zu bytes, too short for the "
		                "8-byte header length", path, size);
		goto fail;
	}
	uint64_t n = le64_load(d);
	if (n > ST_MAX_HEADER) {
		st = qt_err_set(err, QT_EDATA, "%s: offset 0: header length %llu exceeds the limit %u",
		                path, (unsigned long long)n, ST_MAX_HEADER);
		goto fail;
	}
	if (n > size - 8) {
		st = qt_err_set(err, QT_EDATA, "%s: offset 0: header length %llu runs past the end of "
		                "the file (%zu bytes)", path, (unsigned long long)n, size);
		goto fail;
	}
	if ((st = parse_header(f, (const char *)d + 8, (size_t)n, err)) != QT_OK)
		goto fail;
	f->data_start = 8 + n;
	if ((st = check_layout(f, size - f->data_start, err)) != QT_OK)
		goto fail;
	for (size_t i = 0; i < f->n_tensors; i++)
		f->tensors[i].data = d + f->data_start + f->tensors[i].offset;
	qsort(f->tensors, f->n_tensors, sizeof *f->tensors, cmp_tensor_name);
	return QT_OK;
fail:
	st_close(f);
	return st;
}

void st_close(struct st_file *f)
{
	for (size_t i = 0; i < f->n_meta; i++) {
		free(f->meta_keys[i]);
		free(f->meta_vals[i]);
	}
	free(f->meta_keys);
	free(f->meta_vals);
	free(f->tensors);
	free(f->names);
	free(f->path);
	qt_unmap(&f->map);
	memset(f, 0, sizeof *f);
}

const struct st_tensor *st_find(const struct st_file *f, const char *name)
{
	struct st_tensor key = { .name = name };
	return f->n_tensors ? bsearch(&key, f->tensors, f->n_tensors, sizeof key, cmp_tensor_name)
	                    : NULL;
}

const char *st_meta_get(const struct st_file *f, const char *key)
{
	for (size_t i = 0; i < f->n_meta; i++)
		if (strcmp(f->meta_keys[i], key) == 0)
			return f->meta_vals[i];
	return NULL;
}

int st_tensor_to_f32(const struct st_tensor *t, float *dst, struct qt_err *err)
{
	const uint8_t *s = t->data;
	uint64_t n = t->n_elem;
	switch (t->dtype) {
	case QT_DTYPE_F32:  for (uint64_t i = 0; i < n; i++) dst[i] = lef32_load(s + 4 * i); break;
	case QT_DTYPE_F16:  for (uint64_t i = 0; i < n; i++) dst[i] = qt_f16_to_f32(le16_load(s + 2 * i)); break;
	case QT_DTYPE_BF16: for (uint64_t i = 0; i < n; i++) dst[i] = qt_bf16_to_f32(le16_load(s + 2 * i)); break;
	case QT_DTYPE_F64:
		for (uint64_t i = 0; i < n; i++) {
			uint64_t u = le64_load(s + 8 * i);
			double v;
			memcpy(&v, &u, 8);
			dst[i] = (float)v;
		}
		break;
	case QT_DTYPE_U8:  for (uint64_t i = 0; i < n; i++) dst[i] = s[i]; break;
	case QT_DTYPE_I8:  for (uint64_t i = 0; i < n; i++) dst[i] = (int8_t)s[i]; break;
	case QT_DTYPE_I16: for (uint64_t i = 0; i < n; i++) dst[i] = (int16_t)le16_load(s + 2 * i); break;
	case QT_DTYPE_U16: for (uint64_t i = 0; i < n; i++) dst[i] = le16_load(s + 2 * i); break;
	case QT_DTYPE_I32: for (uint64_t i = 0; i < n; i++) dst[i] = (float)(int32_t)le32_load(s + 4 * i); break;
	case QT_DTYPE_U32: for (uint64_t i = 0; i < n; i++) dst[i] = (float)le32_load(s + 4 * i); break;
	case QT_DTYPE_I64: for (uint64_t i = 0; i < n; i++) dst[i] = (float)(int64_t)le64_load(s + 8 * i); break;
	case QT_DTYPE_U64: for (uint64_t i = 0; i < n; i++) dst[i] = (float)le64_load(s + 8 * i); break;
	default:
		return qt_err_set(err, QT_EDATA, "tensor \"%s\": cannot convert %s to F32", t->name,
		                  qt_dtype_name(t->dtype));
	}
	return QT_OK;
}

/* ---- writing ---- */

uint64_t st_spec_size(const struct st_spec *s)
{
	uint64_t n = qt_dtype_size(s->dtype);
	for (int i = 0; i < s->n_dims; i++) {
		if (s->shape[i] < 0)
			return 0;
		uint64_t v = (uint64_t)s->shape[i];
		if (v && n > UINT64_MAX / v)
			return 0;
		n *= v;
	}
	return n;
}

/* Appends s as a JSON string literal. */
static void json_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static const struct st_spec *sort_specs;

static int cmp_spec_order(const void *a, const void *b)
{
	const struct st_spec *x = &sort_specs[*(const size_t *)a], *y = &sort_specs[*(const size_t *)b];
	size_t sx = qt_dtype_size(x->dtype), sy = qt_dtype_size(y->dtype);
	if (sx != sy)
		return sx > sy ? -1 : 1;
	return strcmp(x->name, y->name);
}

int st_writer_open(struct st_writer *w, const char *path, const struct st_spec *specs, size_t n,
                   const struct st_kv *meta, size_t n_meta, struct qt_err *err)
{
	memset(w, 0, sizeof *w);
	for (size_t i = 0; i < n; i++) {
		const struct st_spec *s = &specs[i];
		if (!s->name || !*s->name || strcmp(s->name, "__metadata__") == 0)
			return qt_err_set(err, QT_EUSAGE, "%s: tensor %zu: bad name", path, i);
		if ((unsigned)s->dtype >= QT_DTYPE_COUNT || s->n_dims < 0 || s->n_dims > ST_MAX_DIMS)
			return qt_err_set(err, QT_EUSAGE, "%s: tensor \"%s\": bad dtype or rank", path,
			                  s->name);
		int empty = 0;
		for (int k = 0; k < s->n_dims; k++)
			empty |= s->shape[k] == 0;
		if (st_spec_size(s) == 0 && !empty)
			return qt_err_set(err, QT_EUSAGE, "%s: tensor \"%s\": bad shape", path, s->name);
	}
	w->order = malloc((n + 1) * sizeof *w->order);
	w->sizes = malloc((n + 1) * sizeof *w->sizes);
	w->path = strdup(path);
	if (!w->order || !w->sizes || !w->path) {
		st_writer_abort(w);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		w->order[i] = i;
		w->sizes[i] = st_spec_size(&specs[i]);
	}
	sort_specs = specs; /* qsort has no context argument in C11 */
	qsort(w->order, n, sizeof *w->order, cmp_spec_order);
	for (size_t k = 1; k < n; k++)
		if (strcmp(specs[w->order[k]].name, specs[w->order[k - 1]].name) == 0) {
			const char *dup = specs[w->order[k]].name;
			st_writer_abort(w);
			return qt_err_set(err, QT_EUSAGE, "%s: tensor \"%s\" given twice", path, dup);
		}
	w->n = n;

	/* The header goes to memory first: its length is the file's first field. */
	char *hdr = NULL;
	size_t hlen = 0;
	FILE *mf = open_memstream(&hdr, &hlen);
	if (!mf) {
		st_writer_abort(w);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	fputc('{', mf);
	if (n_meta) {
		fputs("\"__metadata__\":{", mf);
		for (size_t i = 0; i < n_meta; i++) {
			if (i) fputc(',', mf);
			json_str(mf, meta[i].key);
			fputc(':', mf);
			json_str(mf, meta[i].val);
		}
		fputc('}', mf);
	}
	uint64_t off = 0;
	for (size_t k = 0; k < n; k++) {
		const struct st_spec *s = &specs[w->order[k]];
		if (k || n_meta) fputc(',', mf);
		json_str(mf, s->name);
		fprintf(mf, ":{\"dtype\":\"%s\",\"shape\":[", qt_dtype_name(s->dtype));
		for (int d = 0; d < s->n_dims; d++)
			fprintf(mf, "%s%lld", d ? "," : "", (long long)s->shape[d]);
		fprintf(mf, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
		        (unsigned long long)(off + w->sizes[w->order[k]]));
		off += w->sizes[w->order[k]];
	}
	fputc('}', mf);
	while (ftell(mf) % ST_ALIGN)
		fputc(' ', mf);
	if (fclose(mf) != 0 || !hdr) {
		free(hdr);
		st_writer_abort(w);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	int st = qt_out_open(&w->out, path, err);
	if (st == QT_OK) {
		uint8_t len8[8];
		le64_store(len8, hlen);
		st = qt_write(w->out.fp, len8, 8, path, err);
		if (st == QT_OK)
			st = qt_write(w->out.fp, hdr, hlen, path, err);
	}
	free(hdr);
	if (st != QT_OK)
		st_writer_abort(w);
	return st;
}

size_t st_writer_next(const struct st_writer *w)
{
	return w->next < w->n ? w->order[w->next] : (size_t)-1;
}

int st_writer_put(struct st_writer *w, const void *data, uint64_t size, struct qt_err *err)
{
	if (w->next >= w->n)
		return qt_err_set(err, QT_ESOFTWARE, "%s: more tensors written than declared", w->path);
	size_t i = w->order[w->next];
	if (size != w->sizes[i])
		return qt_err_set(err, QT_ESOFTWARE, "%s: tensor %zu: %llu bytes written, %llu declared",
		                  w->path, i, (unsigned long long)size, (unsigned long long)w->sizes[i]);
	int st = qt_write(w->out.fp, data, (size_t)size, w->path, err);
	if (st == QT_OK)
		w->next++;
	return st;
}

int st_writer_commit(struct st_writer *w, struct qt_err *err)
{
	int st;
	if (w->next != w->n) {
		st = qt_err_set(err, QT_ESOFTWARE, "%s: %zu of %zu tensors written", w->path, w->next,
		                w->n);
		st_writer_abort(w);
		return st;
	}
	st = qt_out_commit(&w->out, err);
	free(w->order);
	free(w->sizes);
	free(w->path);
	memset(w, 0, sizeof *w);
	return st;
}

void st_writer_abort(struct st_writer *w)
{
	qt_out_abort(&w->out);
	free(w->order);
	free(w->sizes);
	free(w->path);
	memset(w, 0, sizeof *w);
}

int st_write_file(const char *path, const struct st_spec *specs, size_t n,
                  const struct st_kv *meta, size_t n_meta, struct qt_err *err)
{
	struct st_writer w;
	int st = st_writer_open(&w, path, specs, n, meta, n_meta, err);
	if (st != QT_OK)
		return st;
	size_t i;
	while ((i = st_writer_next(&w)) != (size_t)-1)
		if ((st = st_writer_put(&w, specs[i].data, w.sizes[i], err)) != QT_OK) {
			st_writer_abort(&w);
			return st;
		}
	return st_writer_commit(&w, err);
}
