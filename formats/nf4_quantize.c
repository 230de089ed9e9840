/* qlora-tools: ISC license. */
/*
 * nf4_quantize_dir: an HF Llama directory in, an NF4 directory (nf4(5)) out. Reads the source
 * with formats/modeldir, quantizes with kernels/nf4, writes one model.safetensors with the
 * bitsandbytes layout and config.json with the quantization_config, copies tokenizer files.
 */
#include "formats/nf4.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/io.h"
#include "common/progress.h"
#include "formats/hfconfig.h"
#include "formats/modeldir.h"
#include "kernels/nf4.h"

/* ---- config.json in transformers' layout: json.dumps(indent=2, sort_keys=True) + "\n" ---- */

struct sbuf {
	char  *p;
	size_t n, cap;
	int    oom;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p, b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* A JSON string as Python's json.dumps writes it (ensure_ascii: \uXXXX, surrogate pairs). */
static void put_str(struct sbuf *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	char tmp[16];
	puts_(b, "\"");
	while (*u) {
		uint32_t c = *u;
		int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		if (len > 1) {
			c &= 0xFFu >> (len + 1);
			for (int i = 1; i < len && u[i]; i++)
				c = c << 6 | (u[i] & 0x3F);
		}
		u += len;
		if (c == '"')
			puts_(b, "\\\"");
		else if (c == '\\')
			puts_(b, "\\\\");
		else if (c == '\n')
			puts_(b, "\\n");
		else if (c == '\r')
			puts_(b, "\\r");
		else if (c == '\t')
			puts_(b, "\\t");
		else if (c == '\b')
			puts_(b, "\\b");
		else if (c == '\f')
			puts_(b, "\\f");
		else if (c >= 0x20 && c < 0x7F)
			put(b, (const char *)&c, 1);
		else if (c < 0x10000)
			put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", c));
		else {
			c -= 0x10000;
			put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xD800 + (c >> 10),
			                             0xDC00 + (c & 0x3FF)));
		}
	}
	puts_(b, "\"");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_indent(struct sbuf *b, int depth)
{
	puts_(b, "\n");
	for (int i = 0; i < depth; i++)
		puts_(b, "  ");
}

static void put_json(struct sbuf *b, json_t *v, int depth)
{
	char tmp[48];
	if (json_is_object(v)) {
		size_t n = json_object_size(v), i = 0;
		if (!n) {
			puts_(b, "{}");
			return;
		}
		const char **keys = malloc(n * sizeof *keys);
		if (!keys) {
			b->oom = 1;
			return;
		}
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) keys[i++] = k;
		qsort(keys, n, sizeof *keys, cmp_str);
		puts_(b, "{");
		for (i = 0; i < n; i++) {
			put_indent(b, depth + 1);
			put_str(b, keys[i]);
			puts_(b, ": ");
			put_json(b, json_object_get(v, keys[i]), depth + 1);
			if (i + 1 < n)
				puts_(b, ",");
		}
		put_indent(b, depth);
		puts_(b, "}");
		free(keys);
	} else if (json_is_array(v)) {
		size_t n = json_array_size(v);
		if (!n) {
			puts_(b, "[]");
			return;
		}
		puts_(b, "[");
		for (size_t i = 0; i < n; i++) {
			put_indent(b, depth + 1);
			put_json(b, json_array_get(v, i), depth + 1);
			if (i + 1 < n)
				puts_(b, ",");
		}
		put_indent(b, depth);
		puts_(b, "]");
	} else if (json_is_string(v)) {
		put_str(b, json_string_value(v));
	} else if (json_is_integer(v)) {
		put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v)));
	} else if (json_is_real(v)) {
		hf_format_double(json_real_value(v), tmp, sizeof tmp);
		puts_(b, tmp);
	} else {
		puts_(b, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
	}
}

/* The BitsAndBytesConfig.to_dict() of load_in_4bit + nf4 (reference.md 5.10). */
static json_t *quant_config(int double_quant, const char *compute_dtype, const char *skip)
{
	json_t *c = json_pack("{s:b, s:b, s:s, s:s, s:s, s:b, s:b, s:b, s:n, s:f, s:b, s:b, s:s}",
	                 "_load_in_4bit", 1, "_load_in_8bit", 0,
	                 "bnb_4bit_compute_dtype", compute_dtype,
	                 "bnb_4bit_quant_storage", "uint8", "bnb_4bit_quant_type", "nf4",
	                 "bnb_4bit_use_double_quant", double_quant,
	                 "llm_int8_enable_fp32_cpu_offload", 0, "llm_int8_has_fp16_weight", 0,
	                 "llm_int8_skip_modules", "llm_int8_threshold", 6.0, "load_in_4bit", 1,
	                 "load_in_8bit", 0, "quant_method", "bitsandbytes");
	if (c && skip) {
		/* The list replaces transformers' default (which keeps lm_head), so lm_head, never
		 * quantized here, is named too. */
		json_t *l = json_array();
		const char *p = skip;
		while (*p) {
			size_t n = strcspn(p, ",");
			if (n)
				json_array_append_new(l, json_stringn(p, n));
			p += n + (p[n] == ',');
		}
		json_array_append_new(l, json_string("lm_head"));
		json_object_set_new(c, "llm_int8_skip_modules", l);
	}
	return c;
}

/* 1 if module name (without ".weight") contains one of the comma-separated fragments. */
static int skipped(const char *skip, const char *name)
{
	for (const char *p = skip; p && *p;) {
		size_t n = strcspn(p, ",");
		char frag[256];
		if (n && n < sizeof frag) {
			memcpy(frag, p, n);
			frag[n] = '\0';
			size_t l = strlen(name) - strlen(".weight");
			const char *hit = strstr(name, frag);
			if (hit && (size_t)(hit - name) + n <= l)
				return 1;
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

static int write_text(const char *path, const char *s, size_t n, struct qt_err *err)
{
	struct qt_out o;
	int st = qt_out_open(&o, path, err);
	if (st)
		return st;
	if ((st = qt_write(o.fp, s, n, path, err)) != QT_OK) {
		qt_out_abort(&o);
		return st;
	}
	return qt_out_commit(&o, err);
}

/* ---- which tensors are quantized ---- */

/* Returns the decoder layer index if name is a q/k/v/o/gate/up/down weight, else -1. */
static long linear_layer(const char *name)
{
	static const char *const mods[] = { "self_attn.q_proj", "self_attn.k_proj",
		"self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
		"mlp.down_proj" };
	const char *p = "model.layers.";
	if (strncmp(name, p, strlen(p)))
		return -1;
	char *end;
	long layer = strtol(name + strlen(p), &end, 10);
	if (end == name + strlen(p) || *end != '.')
		return -1;
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
		size_t l = strlen(mods[i]);
		if (!strncmp(end + 1, mods[i], l) && !strcmp(end + 1 + l, ".weight"))
			return layer;
	}
	return -1;
}

/* The quantized form of one weight (buffers owned). */
struct qweight {
	const struct st_tensor *src;
	char     prefix[400];
	struct nf4_state state;
	uint8_t *packed, *qabsmax;
	float   *absmax, *nested_absmax;
	size_t   n_blocks, n_groups;
	char     blob[512];
	size_t   blob_len;
};

static int quantize_one(struct qweight *q, const struct nf4_quantize_opts *o, float *x, float *y,
                        struct nf4_layer_error *le, uint64_t *le_count, struct qt_err *err)
{
	const struct st_tensor *t = q->src;
	uint64_t n = t->n_elem;
	if (t->n_dims != 2)
		return qt_err_set(err, QT_EDATA, "%s: %d-D weight (2-D expected)", t->name, t->n_dims);
	if (t->dtype != QT_DTYPE_F32 && t->dtype != QT_DTYPE_F16 && t->dtype != QT_DTYPE_BF16)
		return qt_err_set(err, QT_EDATA, "%s: dtype %s (F32, F16 or BF16 expected)", t->name,
		                  qt_dtype_name(t->dtype));
	int st = st_tensor_to_f32(t, x, err);
	if (st)
		return st;
	for (uint64_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return qt_err_set(err, QT_EDATA, "%s: element %llu is not finite", t->name,
			                  (unsigned long long)i);
	q->n_blocks = nf4_n_blocks(n, o->blocksize);
	q->n_groups = nf4_n_blocks(q->n_blocks, NF4_NESTED_BLOCKSIZE);
	q->packed = malloc(nf4_packed_bytes(n));
	q->absmax = malloc(q->n_blocks * sizeof(float));
	q->qabsmax = malloc(q->n_blocks);
	q->nested_absmax = malloc(q->n_groups * sizeof(float) + 1);
	if (!q->packed || !q->absmax || !q->qabsmax || !q->nested_absmax)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	nf4_quantize(x, n, o->blocksize, q->packed, q->absmax, o->n_threads);
	q->state = (struct nf4_state){ .blocksize = o->blocksize, .dtype = t->dtype,
		.rows = t->shape[0], .cols = t->shape[1], .nested = o->double_quant,
		.nested_blocksize = NF4_NESTED_BLOCKSIZE };
	const float *am = q->absmax;
	if (o->double_quant) {
		float off = nf4_absmax_mean(q->absmax, q->n_blocks);
		q->state.nested_offset = off;
		nf4_double_quant(q->absmax, q->n_blocks, off, nf4_dynamic_map, NF4_NESTED_BLOCKSIZE,
		                 q->qabsmax, q->nested_absmax);
		/* the error is measured on what a reader rebuilds */
		float *deq = malloc(q->n_blocks * sizeof(float));
		if (!deq)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		nf4_double_dequant(q->qabsmax, q->n_blocks, q->nested_absmax, nf4_dynamic_map,
		                   NF4_NESTED_BLOCKSIZE, off, deq);
		nf4_dequantize(q->packed, deq, nf4_code, o->blocksize, n, y);
		free(deq);
	} else {
		nf4_dequantize(q->packed, am, nf4_code, o->blocksize, n, y);
	}
	double sum = 0;
	for (uint64_t i = 0; i < n; i++) {
		double e = fabs((double)x[i] - (double)y[i]);
		sum += e;
		if (e > le->max_abs)
			le->max_abs = e;
	}
	le->mean_abs += sum;
	*le_count += n;
	q->blob_len = nf4_state_format(&q->state, q->blob, sizeof q->blob);
	return q->blob_len ? QT_OK : qt_err_set(err, QT_ESOFTWARE, "%s: quant_state too long", t->name);
}

static void qweight_free(struct qweight *q)
{
	free(q->packed), free(q->absmax), free(q->qabsmax), free(q->nested_absmax);
}

/* ---- the driver ---- */

static int same_dir(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

int nf4_quantize_dir(const struct nf4_quantize_opts *o, struct nf4_summary *sum,
                     struct qt_err *err)
{
	memset(sum, 0, sizeof *sum);
	double t0 = qt_now();
	if (!nf4_blocksize_ok((long)o->blocksize))
		return qt_err_set(err, QT_EUSAGE, "blocksize %zu: not one of 32, 64, ..., 4096",
		                  o->blocksize);
	struct stat sb;
	if (stat(o->in_dir, &sb) != 0)
		return qt_err_set(err, QT_ENOINPUT, "%s:", o->in_dir);
	if (same_dir(o->in_dir, o->out_dir))
		return qt_err_set(err, QT_EUSAGE, "%s: output directory is the input directory",
		                  o->out_dir);
	char *cfg_path = qt_path_join(o->in_dir, HF_CONFIG_NAME), *cfg_text = NULL, *tmp = NULL;
	size_t cfg_len;
	int st = qt_read_file(cfg_path, &cfg_text, &cfg_len, err);
	json_t *cfg = NULL;
	struct model_dir m;
	int m_open = 0;
	struct qweight *qw = NULL;
	struct st_spec *specs = NULL;
	char (*names)[448] = NULL;
	float *x = NULL, *y = NULL;
	uint64_t *counts = NULL;
	size_t nq = 0, n_specs = 0;
	if (st)
		goto out;
	json_error_t je;
	cfg = json_loadb(cfg_text, cfg_len, 0, &je);
	if (!json_is_object(cfg)) {
		st = qt_err_set(err, QT_EDATA, "%s:%d: %s", cfg_path, je.line, je.text);
		goto out;
	}
	if (json_object_get(cfg, "quantization_config")) {
		st = qt_err_set(err, QT_EDATA, "%s: already quantized (has quantization_config)",
		                cfg_path);
		goto out;
	}
	if ((st = model_dir_open(&m, o->in_dir, MODEL_DIR_NO_TOKENIZER, err)) != QT_OK)
		goto out;
	m_open = 1;

	/* Plan: which tensors, the largest buffer, the layers. */
	const struct st_set *ws = &m.weights;
	uint64_t max_n = 1;
	long n_layers = m.config.num_hidden_layers;
	for (size_t i = 0; i < ws->n_tensors; i++) {
		const struct st_tensor *t = ws->tensors[i];
		sum->bytes_in += t->size;
		if (strstr(t->name, NF4_STATE_SUFFIX) || strstr(t->name, ".weight.absmax")) {
			st = qt_err_set(err, QT_EDATA, "%s: tensor %s: already quantized", o->in_dir, t->name);
			goto out;
		}
		long layer = linear_layer(t->name);
		if (layer >= 0 && skipped(o->skip, t->name))
			continue;
		if (layer >= 0) {
			nq++;
			if (t->n_elem > max_n)
				max_n = t->n_elem;
			if (layer >= n_layers) {
				st = qt_err_set(err, QT_EDATA, "%s: tensor %s: layer beyond num_hidden_layers",
				                o->in_dir, t->name);
				goto out;
			}
		}
	}
	qw = calloc(nq ? nq : 1, sizeof *qw);
	sum->layers = calloc((size_t)(n_layers > 0 ? n_layers : 1), sizeof *sum->layers);
	counts = calloc((size_t)(n_layers > 0 ? n_layers : 1), sizeof *counts);
	x = malloc(max_n * sizeof(float));
	y = malloc(max_n * sizeof(float));
	size_t max_specs = ws->n_tensors + 5 * nq;
	specs = calloc(max_specs, sizeof *specs);
	names = calloc(max_specs, sizeof *names);
	if (!qw || !sum->layers || !counts || !x || !y || !specs || !names) {
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	sum->n_layers = (size_t)n_layers;

	/* Quantize. */
	struct qt_progress pr;
	qt_progress_begin(&pr, "weights", nq);
	size_t k = 0;
	for (size_t i = 0; i < ws->n_tensors; i++) {
		const struct st_tensor *t = ws->tensors[i];
		long layer = linear_layer(t->name);
		struct st_spec *s = &specs[n_specs];
		if (layer >= 0 && skipped(o->skip, t->name))
			layer = -1;
		if (layer < 0) {
			snprintf(names[n_specs], sizeof names[0], "%s", t->name);
			*s = (struct st_spec){ .name = names[n_specs], .dtype = t->dtype,
				.n_dims = t->n_dims, .data = t->data };
			memcpy(s->shape, t->shape, sizeof s->shape);
			n_specs++;
			sum->n_kept++;
			continue;
		}
		struct qweight *q = &qw[k++];
		q->src = t;
		snprintf(q->prefix, sizeof q->prefix, "%.*s", (int)(strlen(t->name) - strlen(".weight")),
		         t->name);
		if ((st = quantize_one(q, o, x, y, &sum->layers[layer], &counts[layer], err)) != QT_OK)
			goto out_progress;
		sum->n_quantized++;
		sum->n_params_quantized += t->n_elem;
		qt_progress_update(&pr, k);
		/* The tensors of this weight, as Linear4bit._save_to_state_dict names them. */
		struct { const char *suffix; enum qt_dtype dt; uint64_t n; const void *data; } parts[6] = {
			{ ".weight", QT_DTYPE_U8, nf4_packed_bytes(t->n_elem), q->packed },
			{ ".weight.absmax", o->double_quant ? QT_DTYPE_U8 : QT_DTYPE_F32, q->n_blocks,
			  o->double_quant ? (const void *)q->qabsmax : (const void *)q->absmax },
			{ ".weight.quant_map", QT_DTYPE_F32, 16, nf4_code },
			{ NF4_STATE_SUFFIX, QT_DTYPE_U8, q->blob_len, q->blob },
			{ ".weight.nested_absmax", QT_DTYPE_F32, q->n_groups, q->nested_absmax },
			{ ".weight.nested_quant_map", QT_DTYPE_F32, 256, nf4_dynamic_map },
		};
		for (int p = 0; p < (o->double_quant ? 6 : 4); p++) {
			s = &specs[n_specs];
			snprintf(names[n_specs], sizeof names[0], "%s%s", q->prefix, parts[p].suffix);
			*s = (struct st_spec){ .name = names[n_specs], .dtype = parts[p].dt, .n_dims = 1,
				.data = parts[p].data };
			s->shape[0] = (int64_t)parts[p].n;
			if (p == 0) { /* packed weight: [(n+1)/2, 1] */
				s->n_dims = 2;
				s->shape[1] = 1;
			}
			n_specs++;
		}
	}
out_progress:
	qt_progress_end(&pr);
	if (st)
		goto out;
	for (long l = 0; l < n_layers; l++)
		if (counts[l])
			sum->layers[l].mean_abs /= (double)counts[l];

	/* Write. */
	const char *cdt = m.config.torch_dtype[0] ? m.config.torch_dtype : "float32";
	json_object_set_new(cfg, "quantization_config", quant_config(o->double_quant, cdt, o->skip));
	struct sbuf b = { 0 };
	put_json(&b, cfg, 0);
	puts_(&b, "\n");
	if (b.oom) {
		free(b.p);
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	if (!(tmp = qt_dir_begin(o->out_dir, err))) {
		st = err->status;
		free(b.p);
		goto out;
	}
	char *p_cfg = qt_path_join(tmp, HF_CONFIG_NAME), *p_st = qt_path_join(tmp, ST_SINGLE_NAME);
	struct st_kv meta = { "format", "pt" };
	st = write_text(p_cfg, b.p, b.n, err);
	free(b.p);
	if (st == QT_OK)
		st = st_write_file(p_st, specs, n_specs, &meta, 1, err);
	if (st == QT_OK)
		st = model_dir_copy_aux(&m, tmp, err);
	if (st == QT_OK && stat(p_st, &sb) == 0)
		sum->bytes_out = (uint64_t)sb.st_size;
	free(p_cfg);
	free(p_st);
	if (st == QT_OK)
		st = qt_dir_commit(tmp, o->out_dir, err);
	if (st != QT_OK)
		qt_dir_abort(tmp);
out:
	sum->seconds = qt_now() - t0;
	for (size_t i = 0; qw && i < nq; i++)
		qweight_free(&qw[i]);
	free(qw), free(specs), free(names), free(x), free(y), free(counts), free(tmp);
	if (st != QT_OK) {
		free(sum->layers);
		sum->layers = NULL;
		sum->n_layers = 0;
	}
	if (m_open)
		model_dir_close(&m);
	json_decref(cfg);
	free(cfg_text);
	free(cfg_path);
	return st;
}
