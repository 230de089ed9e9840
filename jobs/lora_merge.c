/* qlora-tools: ISC license. */
/* lora-merge's library side; see lora_merge.h and lora-merge(1). */
#include "jobs/lora_merge.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/dtype.h"
#include "common/half.h"
#include "common/io.h"
#include "common/pool.h"
#include "common/progress.h"
#include "formats/adapter.h"
#include "formats/hfconfig.h"
#include "formats/nf4.h"
#include "formats/safetensors.h"
#include "kernels/matmul.h"

#include <cblas.h>

/* One output tensor and where its values come from. */
struct src {
	char                   *name;   /* output name (owned) */
	const struct st_tensor *t;      /* dense source tensor */
	enum qt_dtype           in_dt;  /* stored dtype */
	enum qt_dtype           out_dt;
	int                     n_dims;
	int64_t                 shape[ST_MAX_DIMS];
	uint64_t                n_elem;
	int                     layer, module; /* adapted linear, or -1 */
	size_t                  shard;
	char                   *nf4;    /* NF4 weight: module prefix for nf4_weight_load (owned) */
	uint64_t                nf4_bytes; /* its stored bytes, auxiliary tensors included */
};

struct job {
	const struct merge_opts *o;
	struct hf_config   cfg;
	struct adapter_dims dims;
	struct adapter     ad[MERGE_MAX_ADAPTERS];
	int                n_ad;
	struct st_set      set;
	int                set_open;
	struct src        *src;
	size_t             n_src;
	char              *tmp;     /* output directory being built */
	float             *f32;     /* scratch for one tensor */
	void              *outbuf;  /* scratch for its converted bytes */
	struct merge_stats st;
	struct qt_progress prog;
};

/* ---- base tensors ---- */

/* Returns the (layer, module) whose weight name is n under dims d, or -1. */
static int linear_of(const struct adapter_dims *d, const char *n, int *l, int *m)
{
	int pos = 0, li;
	if (sscanf(n, "model.layers.%d.%n", &li, &pos) != 1 || pos == 0)
		return -1;
	for (int k = 0; k < ADAPTER_N_MODULES; k++) {
		const char *name = adapter_module_name_of(d, k);
		if (!name)
			continue;
		char t[64];
		snprintf(t, sizeof t, "%s.%s.weight", adapter_module_block[k], name);
		if (strcmp(n + pos, t) == 0) {
			*l = li, *m = k;
			return 0;
		}
	}
	return -1;
}

static int adapted(const struct job *j, int l, int m)
{
	for (int k = 0; k < j->n_ad; k++)
		if (l < j->ad[k].dims.n_layers && adapter_at(&j->ad[k], l, m)->r)
			return 1;
	return 0;
}

/* Tensors that only describe an NF4 weight (reference.md 5.8). */
static int nf4_aux(const char *n)
{
	static const char *const sfx[] = { NF4_STATE_SUFFIX, ".weight.absmax", ".weight.quant_map",
		".weight.nested_absmax", ".weight.nested_quant_map" };
	size_t ln = strlen(n);
	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		size_t ls = strlen(sfx[i]);
		if (ln > ls && !strcmp(n + ln - ls, sfx[i]))
			return 1;
	}
	return 0;
}

/* If s is the packed weight of an NF4 module, checks it (nf4_weight_load) and gives s the
 * dense shape and dtype that bitsandbytes' dequantize_4bit returns. */
static int plan_nf4(struct job *j, struct src *s, struct qt_err *err)
{
	size_t ln = strlen(s->name);
	if (ln < 8 || strcmp(s->name + ln - 7, ".weight") != 0)
		return QT_OK;
	char *prefix = strndup(s->name, ln - 7);
	if (!prefix)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (!nf4_weight_present(&j->set, prefix)) {
		free(prefix);
		return QT_OK;
	}
	struct nf4_weight w;
	int st = nf4_weight_load(&j->set, prefix, &w, err);
	if (st) {
		free(prefix);
		return st;
	}
	s->nf4 = prefix;
	s->in_dt = w.state.dtype;
	s->n_dims = 2;
	s->shape[0] = w.state.rows, s->shape[1] = w.state.cols;
	s->n_elem = (uint64_t)w.state.rows * (uint64_t)w.state.cols;
	static const char *const sfx[] = { ".weight", NF4_STATE_SUFFIX, ".weight.absmax",
		".weight.quant_map", ".weight.nested_absmax", ".weight.nested_quant_map" };
	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		char n[512];
		snprintf(n, sizeof n, "%s%s", prefix, sfx[i]);
		const struct st_tensor *t = st_set_find(&j->set, n);
		s->nf4_bytes += t ? t->size : 0;
	}
	nf4_weight_free(&w);
	j->st.nf4_base = 1;
	return QT_OK;
}

static int plan_tensors(struct job *j, struct qt_err *err)
{
	j->src = calloc(j->set.n_tensors + 1, sizeof *j->src);
	if (!j->src)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (size_t i = 0; i < j->set.n_tensors; i++) {
		const struct st_tensor *t = j->set.tensors[i];
		if (nf4_aux(t->name))
			continue;  /* part of an NF4 weight, read through formats/nf4 */
		struct src *s = &j->src[j->n_src++];
		if (!(s->name = strdup(t->name)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		s->t = t;
		s->in_dt = t->dtype;
		s->n_dims = t->n_dims;
		memcpy(s->shape, t->shape, sizeof s->shape);
		s->n_elem = t->n_elem;
		s->layer = s->module = -1;
		int st = plan_nf4(j, s, err);
		if (st)
			return st;
		int l, m;
		if (linear_of(&j->dims, t->name, &l, &m) == 0 && l < j->dims.n_layers && adapted(j, l, m)) {
			int in, out;
			adapter_module_shape(&j->dims, m, &in, &out);
			if (s->n_dims != 2 || s->shape[0] != out || s->shape[1] != in)
				return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": shape is not [%d, %d] as "
				                  "config.json says", j->o->base_dir, t->name, out, in);
			if (!qt_dtype_is_float(s->in_dt) || s->in_dt == QT_DTYPE_F64)
				return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": dtype %s cannot be "
				                  "merged into (F32, BF16 or F16)", j->o->base_dir, t->name,
				                  qt_dtype_name(s->in_dt));
			s->layer = l, s->module = m;
		}
		s->out_dt = s->in_dt;
		if (j->o->out_dtype >= 0 && qt_dtype_is_float(s->in_dt))
			s->out_dt = (enum qt_dtype)j->o->out_dtype;
	}
	/* every adapted module must have its weight in the base */
	for (int l = 0; l < j->dims.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			if (!adapted(j, l, m))
				continue;
			int found = 0;
			for (size_t i = 0; i < j->n_src && !found; i++)
				found = j->src[i].layer == l && j->src[i].module == m;
			if (!found)
				return qt_err_set(err, QT_EDATA, "%s: no weight model.layers.%d.%s.%s.weight "
				                  "for the adapter", j->o->base_dir, l, adapter_module_block[m],
				                  adapter_module_name_of(&j->dims, m));
		}
	return QT_OK;
}

/* ---- per-tensor work ---- */

/*
 * A tensor is processed in bands of whole rows (about BAND elements each), one pool task per
 * band, in a single pass: widen the band to f32 (or dequantize NF4), add every adapter's rows of
 * f * B @ A with a single-threaded sgemm, round to the output dtype. OpenBLAS's own threads are
 * turned off meanwhile: on few cores their spin-waiting took a third of the time.
 */
#define BAND (1u << 17)

struct band_job {
	struct job             *j;
	struct src             *s;
	const struct nf4_weight *w;    /* NF4 source, or NULL */
	int64_t                 rows, cols, rows_per_band;
};

static void widen(const void *in, enum qt_dtype dt, float *out, size_t n)
{
	if (dt == QT_DTYPE_F32)
		memcpy(out, in, n * 4);  /* little-endian host */
	else if (dt == QT_DTYPE_BF16)
		qt_bf16_to_f32_row(in, out, n);
	else
		qt_f16_to_f32_row(in, out, n);
}

static void narrow(const float *in, enum qt_dtype dt, void *out, size_t n)
{
	if (dt == QT_DTYPE_F32)
		memcpy(out, in, n * 4);
	else if (dt == QT_DTYPE_BF16)
		qt_f32_to_bf16_row(in, out, n);
	else
		qt_f32_to_f16_row(in, out, n);
}

static void band(void *ctx, size_t i, int worker)
{
	struct band_job *b = ctx;
	struct job *j = b->j;
	struct src *s = b->s;
	int64_t r0 = (int64_t)i * b->rows_per_band, r1 = r0 + b->rows_per_band;
	if (r1 > b->rows)
		r1 = b->rows;
	size_t off = (size_t)r0 * (size_t)b->cols, n = (size_t)(r1 - r0) * (size_t)b->cols;
	float *f = j->f32 + off;
	(void)worker;
	if (b->w) {
		/* dequantize_4bit: f32(code * absmax), returned in the quant_state dtype */
		nf4_weight_rows(b->w, r0, r1, f);
		if (s->in_dt == QT_DTYPE_BF16)
			for (size_t k = 0; k < n; k++)
				f[k] = qt_bf16_to_f32(qt_f32_to_bf16(f[k]));
		else if (s->in_dt == QT_DTYPE_F16)
			for (size_t k = 0; k < n; k++)
				f[k] = qt_f16_to_f32(qt_f32_to_f16(f[k]));
	} else {
		widen((const char *)s->t->data + off * qt_dtype_size(s->in_dt), s->in_dt, f, n);
	}
	for (int k = 0; s->layer >= 0 && k < j->n_ad; k++) {
		int kk = j->o->unmerge ? j->n_ad - 1 - k : k;
		const struct adapter *a = &j->ad[kk];
		if (s->layer >= a->dims.n_layers)
			continue;
		const struct lora_pair *p = adapter_at(a, s->layer, s->module);
		if (!p->r)
			continue;
		float fac = (float)(j->o->scale[kk] * p->scaling) * (j->o->unmerge ? -1.0f : 1.0f);
		/* rows [r0, r1) of W (out, in) += fac * B (out, r) @ A (r, in): the dx += dout @ W
		 * form of kernels/matmul.h with T = r1 - r0, OC = r, C = in */
		linear_backward_x_fast(f, p->B + (size_t)r0 * p->r, p->A, (int)(r1 - r0), p->in, p->r,
		                       fac);
	}
	narrow(f, s->out_dt, (char *)j->outbuf + off * qt_dtype_size(s->out_dt), n);
}

/* The bytes of tensor s as written: either the mapped input itself, or j->outbuf. */
static int produce(struct job *j, struct src *s, const void **data, struct qt_err *err)
{
	j->st.bytes_read += s->nf4 ? s->nf4_bytes : s->t->size;
	size_t bad = s->nf4 ? 0 : qt_first_nonfinite(s->t->data, s->in_dt, s->n_elem);
	if (!s->nf4 && bad < s->n_elem)
		return qt_err_set(err, QT_EDATA, "%s: tensor %s: element %zu is not finite",
		                  j->o->base_dir, s->name, bad);
	if (!s->nf4 && s->layer < 0 && s->out_dt == s->in_dt) {
		*data = s->t->data;  /* copied bit for bit */
		return QT_OK;
	}
	if (!s->nf4 && (!qt_dtype_is_float(s->in_dt) || s->in_dt == QT_DTYPE_F64))
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": cannot convert %s to %s",
		                  j->o->base_dir, s->name, qt_dtype_name(s->in_dt),
		                  qt_dtype_name(s->out_dt));
	struct nf4_weight w;
	struct band_job b = { j, s, NULL, 1, (int64_t)s->n_elem, 1 };
	if (s->n_dims == 2)
		b.rows = s->shape[0], b.cols = s->shape[1];
	if (s->nf4) {
		int st = nf4_weight_load(&j->set, s->nf4, &w, err);
		if (st)
			return st;
		b.w = &w;
	}
	if (b.cols == 0 || b.rows == 0) {
		if (s->nf4)
			nf4_weight_free(&w);
		*data = j->outbuf;
		return QT_OK;
	}
	b.rows_per_band = (int64_t)BAND / b.cols > 0 ? (int64_t)BAND / b.cols : 1;
	if (s->n_dims != 2) {  /* not a matrix: treat as one row cut into pieces */
		b.rows = (int64_t)s->n_elem, b.cols = 1, b.rows_per_band = BAND;
	}
	qt_pool_for(j->o->n_threads, (size_t)((b.rows + b.rows_per_band - 1) / b.rows_per_band),
	            band, &b);
	if (s->nf4)
		nf4_weight_free(&w);
	j->st.n_merged += s->layer >= 0;
	*data = j->outbuf;
	return QT_OK;
}

/* ---- output ---- */

static uint64_t out_bytes(const struct src *s)
{
	return s->n_elem * qt_dtype_size(s->out_dt);
}

static int write_shard(struct job *j, size_t shard, const char *path, struct qt_err *err)
{
	size_t n = 0;
	struct st_spec *specs = calloc(j->n_src + 1, sizeof *specs);
	size_t *idx = calloc(j->n_src + 1, sizeof *idx);
	if (!specs || !idx) {
		free(specs), free(idx);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	for (size_t i = 0; i < j->n_src; i++) {
		struct src *s = &j->src[i];
		if (s->shard != shard)
			continue;
		specs[n] = (struct st_spec){ .name = s->name, .dtype = s->out_dt, .n_dims = s->n_dims };
		memcpy(specs[n].shape, s->shape, sizeof s->shape);
		idx[n++] = i;
	}
	struct st_kv meta = { "format", "pt" };
	struct st_writer w;
	int st = st_writer_open(&w, path, specs, n, &meta, 1, err), opened = !st;
	size_t k;
	while (!st && (k = st_writer_next(&w)) != (size_t)-1) {
		struct src *s = &j->src[idx[k]];
		const void *data = NULL;
		if (!(st = produce(j, s, &data, err)))
			st = st_writer_put(&w, data, out_bytes(s), err);
		if (s->t) /* read once: out of RSS (a 7B base is 13 GB of mapped pages) */
			qt_map_drop(s->t->data, s->t->size);
		j->st.bytes_written += out_bytes(s);
		j->st.n_tensors++;
		qt_progress_update(&j->prog, j->st.bytes_written);
	}
	if (!st)
		st = st_writer_commit(&w, err);
	else if (opened)
		st_writer_abort(&w);
	free(specs), free(idx);
	return st;
}

static int write_weights(struct job *j, struct qt_err *err)
{
	uint64_t total = 0, cur = 0, biggest = 0;
	uint64_t limit = j->o->shard_bytes ? j->o->shard_bytes : MERGE_SHARD_BYTES;
	size_t shard = 0;
	for (size_t i = 0; i < j->n_src; i++) {  /* name order: shards fill greedily */
		uint64_t b = out_bytes(&j->src[i]);
		if (cur && cur + b > limit)
			shard++, cur = 0;
		j->src[i].shard = shard;
		cur += b, total += b;
		biggest = j->src[i].n_elem > biggest ? j->src[i].n_elem : biggest;
	}
	size_t n_shards = shard + 1;
	j->f32 = malloc(biggest * 4 + 4);
	j->outbuf = malloc(biggest * 4 + 4);
	if (!j->f32 || !j->outbuf)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory (%llu-element tensor)",
		                  (unsigned long long)biggest);
	qt_progress_begin(&j->prog, "bytes", total);
	char **files = calloc(n_shards, sizeof *files);
	int st = files ? QT_OK : qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (size_t s = 0; !st && s < n_shards; s++) {
		char fn[64];
		if (n_shards == 1)
			snprintf(fn, sizeof fn, "%s", ST_SINGLE_NAME);
		else
			snprintf(fn, sizeof fn, "model-%05zu-of-%05zu.safetensors", s + 1, n_shards);
		files[s] = strdup(fn);
		char *p = qt_path_join(j->tmp, fn);
		st = files[s] && p ? write_shard(j, s, p, err) : qt_err_set(err, QT_ESOFTWARE, "out of memory");
		free(p);
	}
	qt_progress_end(&j->prog);
	if (!st && n_shards > 1) {
		const char **names = calloc(j->n_src, sizeof *names), **fs = calloc(j->n_src, sizeof *fs);
		if (names && fs) {
			for (size_t i = 0; i < j->n_src; i++)
				names[i] = j->src[i].name, fs[i] = files[j->src[i].shard];
			st = st_index_write(j->tmp, names, fs, j->n_src, total, err);
		} else {
			st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		}
		free(names), free(fs);
	}
	for (size_t s = 0; files && s < n_shards; s++)
		free(files[s]);
	free(files);
	return st;
}

/* ---- entry points ---- */

static void job_free(struct job *j)
{
	for (int k = 0; k < j->n_ad; k++)
		adapter_free(&j->ad[k]);
	if (j->set_open)
		st_set_close(&j->set);
	for (size_t i = 0; i < j->n_src; i++)
		free(j->src[i].name), free(j->src[i].nf4);
	free(j->src), free(j->f32), free(j->outbuf);
	if (j->tmp)
		qt_dir_abort(j->tmp);
	free(j->tmp);
}

int merge_run(const struct merge_opts *o, struct merge_stats *stats, struct qt_err *err)
{
	struct job j = { .o = o };
	double t0 = qt_now();
	int st;
	if (o->n_adapters < 1 || o->n_adapters > MERGE_MAX_ADAPTERS)
		return qt_err_set(err, QT_EUSAGE, "between 1 and %d adapters", MERGE_MAX_ADAPTERS);
	if (o->out_dtype >= 0 && o->out_dtype != QT_DTYPE_F32 && o->out_dtype != QT_DTYPE_BF16 &&
	    o->out_dtype != QT_DTYPE_F16)
		return qt_err_set(err, QT_EUSAGE, "output dtype: f32, bf16 or f16");
	char *cp = qt_path_join(o->base_dir, HF_CONFIG_NAME);
	st = cp ? hf_config_load(cp, &j.cfg, err) : qt_err_set(err, QT_ESOFTWARE, "out of memory");
	free(cp);
	if (st)
		return st;
	j.dims = (struct adapter_dims){ (int)j.cfg.num_hidden_layers, (int)j.cfg.hidden_size,
		(int)j.cfg.intermediate_size, (int)(j.cfg.num_attention_heads * j.cfg.head_dim),
		(int)(j.cfg.num_key_value_heads * j.cfg.head_dim), hf_config_fused(&j.cfg) };
	for (; j.n_ad < o->n_adapters; j.n_ad++) {
		if ((st = adapter_load(&j.ad[j.n_ad], o->adapter_dir[j.n_ad], &j.dims, err)))
			goto out;
		if (j.ad[j.n_ad].prefix) {
			st = qt_err_set(err, QT_EDATA, "%s: a prefix-tuning adapter (PREFIX_TUNING) "
			                "changes no weight, so there is nothing to merge; use it with "
			                "gen --adapter", o->adapter_dir[j.n_ad]);
			j.n_ad++;
			goto out;
		}
	}
	if ((st = st_set_open(&j.set, o->base_dir, err)))
		goto out;
	j.set_open = 1;
	if ((st = plan_tensors(&j, err)))
		goto out;
	j.st.out_dtype = o->out_dtype;
	for (size_t i = 0; i < j.n_src && j.st.out_dtype < 0; i++)
		if (j.src[i].layer >= 0)
			j.st.out_dtype = j.src[i].out_dt;
	if (j.st.out_dtype < 0)
		j.st.out_dtype = QT_DTYPE_F32;
	if (!(j.tmp = qt_dir_begin(o->out_dir, HF_CONFIG_NAME, err))) {
		st = err ? err->status : QT_ECANTCREAT;
		goto out;
	}
	int blas_threads = openblas_get_num_threads();
	openblas_set_num_threads(1);  /* the bands are the parallelism (see band()) */
	st = write_weights(&j, err);
	openblas_set_num_threads(blas_threads);
	if (st || (st = merge_write_config(o->base_dir, j.tmp, j.st.out_dtype, err)) ||
	    (st = merge_copy_files(o->base_dir, j.tmp, err)))
		goto out;
	if ((st = qt_dir_commit(j.tmp, o->out_dir, err)))
		goto out;
	free(j.tmp);
	j.tmp = NULL;
	j.st.seconds = qt_now() - t0;
	if (stats)
		*stats = j.st;
out:
	job_free(&j);
	return st;
}

/* ||B A||_F from the r x r Gram matrices: ||BA||^2 = sum_ij (B^T B)_ij (A A^T)_ij. */
static double norm_ba(const struct lora_pair *p)
{
	double s = 0;
	for (int i = 0; i < p->r; i++)
		for (int k = 0; k < p->r; k++) {
			double g = 0, h = 0;
			for (int o = 0; o < p->out; o++)
				g += (double)p->B[(size_t)o * p->r + i] * p->B[(size_t)o * p->r + k];
			for (int c = 0; c < p->in; c++)
				h += (double)p->A[(size_t)i * p->in + c] * p->A[(size_t)k * p->in + c];
			s += g * h;
		}
	return sqrt(s > 0 ? s : 0);
}

int merge_info(const char *dir, FILE *out, struct qt_err *err)
{
	struct adapter a;
	int st = adapter_load(&a, dir, NULL, err);
	if (st)
		return st;
	if (a.prefix) {
		fprintf(out, "adapter: %s\npeft_type: PREFIX_TUNING\nnum_virtual_tokens: %d\n"
		        "layers: %d\nkv_dim: %d\nparameters: %zu\nbase_model_name_or_path: %s\n"
		        "positions: %s\n", dir, a.prefix_len, a.dims.n_layers, a.dims.kv_dim,
		        adapter_n_params(&a),
		        a.cfg.base_model_name_or_path ? a.cfg.base_model_name_or_path : "null",
		        a.cfg.prefix_pos0 ? "from 0" : "after the prefix");
		adapter_free(&a);
		return QT_OK;
	}
	unsigned mask = 0;
	for (int l = 0; l < a.dims.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++)
			mask |= (unsigned)(adapter_at(&a, l, m)->r > 0) << m;
	fprintf(out, "adapter: %s\npeft_type: LORA\nr: %d\nlora_alpha: %.17g\nuse_rslora: %s\n"
	        "scaling: %.9g\ntargets:", dir, a.cfg.r, a.cfg.lora_alpha,
	        a.cfg.use_rslora ? "true" : "false",
	        adapter_scaling(a.cfg.lora_alpha, a.cfg.r, a.cfg.use_rslora));
	for (int m = 0; m < ADAPTER_N_MODULES; m++)
		if (mask >> m & 1)
			fprintf(out, " %s", adapter_module_name_of(&a.dims, m));
	fprintf(out, "\nlayers: %d\nparameters: %zu\nbase_model_name_or_path: %s\n\n"
	        "layer\tmodule\tr\talpha\tscaling\tnorm_BA\tnorm_delta\n", a.dims.n_layers,
	        adapter_n_params(&a), a.cfg.base_model_name_or_path ? a.cfg.base_model_name_or_path
	                                                          : "null");
	for (int l = 0; l < a.dims.n_layers; l++) {
		double s2 = 0, d2 = 0;
		int any = 0;
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			const struct lora_pair *p = adapter_at(&a, l, m);
			if (!p->r)
				continue;
			double n = norm_ba(p), d = n * p->scaling;
			s2 += n * n, d2 += d * d, any = 1;
			fprintf(out, "%d\t%s\t%d\t%.9g\t%.9g\t%.6g\t%.6g\n", l, adapter_module_name_of(&a.dims, m), p->r,
			        p->alpha, p->scaling, n, d);
		}
		if (any)
			fprintf(out, "%d\tall\t-\t-\t-\t%.6g\t%.6g\n", l, sqrt(s2), sqrt(d2));
	}
	adapter_free(&a);
	return QT_OK;
}
