/* qlora-tools: ISC license. */
/*
 * nf4_quantize_dir: an HF Llama directory in, an NF4 directory (nf4(5)) out. Reads the source
 * with formats/modeldir, quantizes with kernels/nf4, writes one model.safetensors with the
 * bitsandbytes layout and config.json with the quantization_config, copies tokenizer files.
 */
#include "jobs/quantize_nf4.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "common/buf.h"
#include "common/progress.h"
#include "formats/hfconfig.h"
#include "formats/model_dir.h"
#include "formats/nf4.h"

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

/* Returns the decoder layer index if name is a q/k/v/o/gate/up/down weight (or Phi-3's fused
 * qkv and gate_up), else -1. */
static long linear_layer(const char *name)
{
	static const char *const mods[] = { "self_attn.q_proj", "self_attn.k_proj",
		"self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
		"mlp.down_proj", "self_attn.qkv_proj", "mlp.gate_up_proj" };
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

/*
 * Memory: the output is streamed (formats/safetensors.h's writer) and each weight is converted
 * to f32 CHUNK_ELEMS elements at a time, so anonymous memory is a few chunk buffers, the largest
 * packed weight and the per-block statistics (1 byte per block with double quantization), not
 * the model. Two passes over the input: the first computes each weight's block maxima (the
 * quant_state blob, written before the packed weights, holds their mean), the second quantizes
 * and writes. Pages of the mapped input are dropped from this process once read (they stay in
 * the page cache), so the resident mapped input is about one weight.
 */
#define CHUNK_ELEMS ((uint64_t)1 << 20) /* a multiple of every blocksize (<= 4096) */

/* The statistics of one quantized weight, from the first pass (buffers owned). */
struct qweight {
	const struct st_tensor *src;
	long     layer;
	char     prefix[400];
	struct nf4_state state;
	uint8_t *qabsmax;        /* double quantization: 8-bit absmax codes */
	float   *absmax;         /* otherwise: absmax itself */
	float   *nested_absmax;
	size_t   n_blocks, n_groups;
	char     blob[512];
	size_t   blob_len;
	double   err_sum, err_max; /* from the second pass */
};

/* Elements [e0, e0 + n) of t as f32 into x. */
static int chunk_to_f32(const struct st_tensor *t, uint64_t e0, uint64_t n, float *x,
                        struct qt_err *err)
{
	struct st_tensor v = *t;
	size_t es = qt_dtype_size(t->dtype);
	v.data = (const uint8_t *)t->data + e0 * es;
	v.n_elem = n;
	v.size = n * es;
	return st_tensor_to_f32(&v, x, err);
}

/* First pass over one weight: checks (2-D float, finite), block maxima as nf4_quantize computes
 * them, double quantization, the quant_state blob. */
static int weight_stats(struct qweight *q, const struct nf4_quantize_opts *o, float *x,
                        struct qt_err *err)
{
	const struct st_tensor *t = q->src;
	uint64_t n = t->n_elem;
	size_t bs = o->blocksize;
	if (t->n_dims != 2)
		return qt_err_set(err, QT_EDATA, "%s: %d-D weight (2-D expected)", t->name, t->n_dims);
	if (t->dtype != QT_DTYPE_F32 && t->dtype != QT_DTYPE_F16 && t->dtype != QT_DTYPE_BF16)
		return qt_err_set(err, QT_EDATA, "%s: dtype %s (F32, F16 or BF16 expected)", t->name,
		                  qt_dtype_name(t->dtype));
	q->n_blocks = nf4_n_blocks(n, bs);
	q->n_groups = nf4_n_blocks(q->n_blocks, NF4_NESTED_BLOCKSIZE);
	q->absmax = malloc(q->n_blocks * sizeof(float) + 1);
	if (!q->absmax)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (uint64_t e0 = 0; e0 < n; e0 += CHUNK_ELEMS) {
		uint64_t len = n - e0 < CHUNK_ELEMS ? n - e0 : CHUNK_ELEMS;
		int st = chunk_to_f32(t, e0, len, x, err);
		if (st)
			return st;
		for (uint64_t i = 0; i < len; i++)
			if (!isfinite(x[i]))
				return qt_err_set(err, QT_EDATA, "%s: element %llu is not finite", t->name,
				                  (unsigned long long)(e0 + i));
		for (uint64_t s = 0; s < len; s += bs) { /* as nf4_quantize_blocks */
			uint64_t l = len - s < bs ? len - s : bs;
			float m = 0.0f;
			for (uint64_t i = 0; i < l; i++) {
				float a = fabsf(x[s + i]);
				m = a > m ? a : m;
			}
			q->absmax[(e0 + s) / bs] = m;
		}
	}
	qt_map_drop(t->data, t->size);
	q->state = (struct nf4_state){ .blocksize = bs, .dtype = t->dtype,
		.rows = t->shape[0], .cols = t->shape[1], .nested = o->double_quant,
		.nested_blocksize = NF4_NESTED_BLOCKSIZE };
	if (o->double_quant) {
		float off = nf4_absmax_mean(q->absmax, q->n_blocks);
		q->state.nested_offset = off;
		q->qabsmax = malloc(q->n_blocks + 1);
		q->nested_absmax = malloc(q->n_groups * sizeof(float) + 1);
		if (!q->qabsmax || !q->nested_absmax)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		nf4_double_quant(q->absmax, q->n_blocks, off, nf4_dynamic_map, NF4_NESTED_BLOCKSIZE,
		                 q->qabsmax, q->nested_absmax);
		free(q->absmax);
		q->absmax = NULL;
	}
	q->blob_len = nf4_state_format(&q->state, q->blob, sizeof q->blob);
	return q->blob_len ? QT_OK : qt_err_set(err, QT_ESOFTWARE, "%s: quant_state too long", t->name);
}

/* Second pass over one weight: packed codes into packed (nf4_packed_bytes(n)), chunk by chunk,
 * and the error against what a reader rebuilds (sum and max of |x - dequant|, summed in element
 * order). x, y: CHUNK_ELEMS floats; am: CHUNK_ELEMS / blocksize floats. */
static int weight_quantize(struct qweight *q, const struct nf4_quantize_opts *o, float *x,
                           float *y, float *am, uint8_t *packed, struct qt_err *err)
{
	const struct st_tensor *t = q->src;
	uint64_t n = t->n_elem;
	size_t bs = o->blocksize;
	double sum = 0, mx = 0;
	for (uint64_t e0 = 0; e0 < n; e0 += CHUNK_ELEMS) {
		uint64_t len = n - e0 < CHUNK_ELEMS ? n - e0 : CHUNK_ELEMS;
		size_t b0 = (size_t)(e0 / bs), nb = nf4_n_blocks((size_t)len, bs);
		int st = chunk_to_f32(t, e0, len, x, err);
		if (st)
			return st;
		nf4_quantize(x, (size_t)len, bs, packed + e0 / 2, am, o->n_threads);
		if (o->double_quant) /* the error is measured on what a reader rebuilds */
			nf4_double_dequant(q->qabsmax + b0, nb, q->nested_absmax + b0 / NF4_NESTED_BLOCKSIZE,
			                   nf4_dynamic_map, NF4_NESTED_BLOCKSIZE, q->state.nested_offset, am);
		nf4_dequantize(packed + e0 / 2, am, nf4_code, bs, (size_t)len, y);
		for (uint64_t i = 0; i < len; i++) {
			double e = fabs((double)x[i] - (double)y[i]);
			sum += e;
			if (e > mx)
				mx = e;
		}
	}
	qt_map_drop(t->data, t->size);
	q->err_sum = sum;
	q->err_max = mx;
	return QT_OK;
}

static void qweight_free(struct qweight *q)
{
	free(q->absmax), free(q->qabsmax), free(q->nested_absmax);
}

/* ---- the driver ---- */

static int same_dir(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* What a spec of the output is made from. */
enum part { PART_KEPT, PART_PACKED, PART_ABSMAX, PART_QUANT_MAP, PART_STATE, PART_NESTED_ABSMAX,
	    PART_NESTED_MAP };

struct source {
	enum part               part;
	const struct st_tensor *kept;  /* PART_KEPT */
	struct qweight         *q;     /* the others */
};

/* Writes every spec in the writer's order; PART_PACKED quantizes its weight (second pass). */
static int write_tensors(struct st_writer *w, const struct st_spec *specs,
                         const struct source *src, const struct nf4_quantize_opts *o,
                         size_t nq, float *x, float *y, float *am, uint8_t *packed,
                         struct qt_err *err)
{
	struct qt_progress pr;
	size_t i, done = 0;
	int st = QT_OK;
	qt_progress_begin(&pr, "weights", nq);
	while (st == QT_OK && (i = st_writer_next(w)) != (size_t)-1) {
		const struct source *s = &src[i];
		const void *data = NULL;
		switch (s->part) {
		case PART_KEPT:          data = s->kept->data; break;
		case PART_ABSMAX:        data = o->double_quant ? (const void *)s->q->qabsmax
		                                                : (const void *)s->q->absmax; break;
		case PART_QUANT_MAP:     data = nf4_code; break;
		case PART_STATE:         data = s->q->blob; break;
		case PART_NESTED_ABSMAX: data = s->q->nested_absmax; break;
		case PART_NESTED_MAP:    data = nf4_dynamic_map; break;
		case PART_PACKED:
			if ((st = weight_quantize(s->q, o, x, y, am, packed, err)) != QT_OK)
				continue;
			data = packed;
			qt_progress_update(&pr, ++done);
			break;
		}
		st = st_writer_put(w, data, st_spec_size(&specs[i]), err);
		if (s->part == PART_KEPT)
			qt_map_drop(s->kept->data, s->kept->size);
	}
	qt_progress_end(&pr);
	return st;
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
	struct source *src = NULL;
	char (*names)[448] = NULL;
	float *x = NULL, *y = NULL, *am = NULL;
	uint8_t *packed = NULL;
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

	/* Plan: which tensors, the largest packed weight, the layers. */
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
	uint64_t *counts = calloc((size_t)(n_layers > 0 ? n_layers : 1), sizeof *counts);
	x = malloc(CHUNK_ELEMS * sizeof(float));
	y = malloc(CHUNK_ELEMS * sizeof(float));
	am = malloc(CHUNK_ELEMS / 32 * sizeof(float));
	packed = malloc(nf4_packed_bytes(max_n));
	size_t max_specs = ws->n_tensors + 5 * nq;
	specs = calloc(max_specs, sizeof *specs);
	src = calloc(max_specs, sizeof *src);
	names = calloc(max_specs, sizeof *names);
	if (!qw || !sum->layers || !counts || !x || !y || !am || !packed || !specs || !src || !names) {
		free(counts);
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	sum->n_layers = (size_t)n_layers;

	/* First pass: checks and statistics; the specs of the output. */
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
				.n_dims = t->n_dims };
			memcpy(s->shape, t->shape, sizeof s->shape);
			src[n_specs++] = (struct source){ .part = PART_KEPT, .kept = t };
			sum->n_kept++;
			continue;
		}
		struct qweight *q = &qw[k++];
		q->src = t;
		q->layer = layer;
		snprintf(q->prefix, sizeof q->prefix, "%.*s", (int)(strlen(t->name) - strlen(".weight")),
		         t->name);
		if ((st = weight_stats(q, o, x, err)) != QT_OK)
			break;
		sum->n_quantized++;
		sum->n_params_quantized += t->n_elem;
		/* The tensors of this weight, as Linear4bit._save_to_state_dict names them. */
		struct { const char *suffix; enum qt_dtype dt; uint64_t n; enum part part; } parts[6] = {
			{ ".weight", QT_DTYPE_U8, nf4_packed_bytes(t->n_elem), PART_PACKED },
			{ ".weight.absmax", o->double_quant ? QT_DTYPE_U8 : QT_DTYPE_F32, q->n_blocks,
			  PART_ABSMAX },
			{ ".weight.quant_map", QT_DTYPE_F32, 16, PART_QUANT_MAP },
			{ NF4_STATE_SUFFIX, QT_DTYPE_U8, q->blob_len, PART_STATE },
			{ ".weight.nested_absmax", QT_DTYPE_F32, q->n_groups, PART_NESTED_ABSMAX },
			{ ".weight.nested_quant_map", QT_DTYPE_F32, 256, PART_NESTED_MAP },
		};
		for (int p = 0; p < (o->double_quant ? 6 : 4); p++) {
			s = &specs[n_specs];
			snprintf(names[n_specs], sizeof names[0], "%s%s", q->prefix, parts[p].suffix);
			*s = (struct st_spec){ .name = names[n_specs], .dtype = parts[p].dt, .n_dims = 1 };
			s->shape[0] = (int64_t)parts[p].n;
			if (p == 0) { /* packed weight: [(n+1)/2, 1] */
				s->n_dims = 2;
				s->shape[1] = 1;
			}
			src[n_specs++] = (struct source){ .part = parts[p].part, .q = q };
		}
	}
	if (st) {
		free(counts);
		goto out;
	}

	/* Second pass: write, quantizing each weight when the writer reaches it. */
	const char *cdt = m.config.torch_dtype[0] ? m.config.torch_dtype : "float32";
	json_object_set_new(cfg, "quantization_config", quant_config(o->double_quant, cdt, o->skip));
	struct qt_buf b = { 0 };
	hf_config_dump(&b, cfg);
	if (b.oom) {
		free(b.p);
		free(counts);
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	if (!(tmp = qt_dir_begin(o->out_dir, HF_CONFIG_NAME, err))) {
		st = err->status;
		free(b.p);
		free(counts);
		goto out;
	}
	char *p_cfg = qt_path_join(tmp, HF_CONFIG_NAME), *p_st = qt_path_join(tmp, ST_SINGLE_NAME);
	struct st_kv meta = { "format", "pt" };
	struct st_writer w;
	st = write_text(p_cfg, b.p, b.n, err);
	free(b.p);
	if (st == QT_OK && (st = st_writer_open(&w, p_st, specs, n_specs, &meta, 1, err)) == QT_OK) {
		st = write_tensors(&w, specs, src, o, nq, x, y, am, packed, err);
		if (st == QT_OK)
			st = st_writer_commit(&w, err);
		else
			st_writer_abort(&w);
	}
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
	/* The per-layer error, summed in the input's tensor order as before streaming. */
	for (size_t i = 0; st == QT_OK && i < nq; i++) {
		struct nf4_layer_error *le = &sum->layers[qw[i].layer];
		le->mean_abs += qw[i].err_sum;
		if (qw[i].err_max > le->max_abs)
			le->max_abs = qw[i].err_max;
		counts[qw[i].layer] += qw[i].src->n_elem;
	}
	for (long l = 0; st == QT_OK && l < n_layers; l++)
		if (counts[l])
			sum->layers[l].mean_abs /= (double)counts[l];
	free(counts);
out:
	sum->seconds = qt_now() - t0;
	for (size_t i = 0; qw && i < nq; i++)
		qweight_free(&qw[i]);
	free(qw), free(specs), free(src), free(names), free(x), free(y), free(am), free(packed),
	free(tmp);
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
