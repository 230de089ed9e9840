/* qlora-tools: ISC license. */
/* export-gguf's library side; see export_gguf.h and export-gguf(1). */
#include "jobs/export_gguf.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/dtype.h"
#include "common/half.h"
#include "common/io.h"
#include "common/pool.h"
#include "common/progress.h"
#include "formats/adapter.h"
#include "formats/gguf.h"
#include "formats/gguf_arch.h"
#include "formats/gguf_tokenizer.h"
#include "formats/hfconfig.h"
#include "formats/model_dir.h"
#include "formats/nf4.h"
#include "kernels/ggml_quant.h"

const char *const export_gguf_type_names[EXPORT_GGUF_N_TYPES + 1] = {
	"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k", NULL
};

/* Per file type: llama_ftype (general.file_type) and the default ggml type
 * (llama-quant.cpp llama_ftype_get_default_type). */
static const struct { uint32_t ftype, dflt; } ftypes[EXPORT_GGUF_N_TYPES] = {
	{ 0, GGML_TYPE_F32 },   { 1, GGML_TYPE_F16 },   { 32, GGML_TYPE_BF16 }, { 7, GGML_TYPE_Q8_0 },
	{ 2, GGML_TYPE_Q4_0 },  { 15, GGML_TYPE_Q4_K }, { 17, GGML_TYPE_Q5_K }, { 18, GGML_TYPE_Q6_K },
};

/* llama.cpp file types (llama-quantize's names) that we do not write. */
static const char *const other_ftypes[] = {
	"q4_1", "q5_0", "q5_1", "q2_k", "q2_k_s", "q3_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k",
	"q4_k_s", "q5_k", "q5_k_s", "iq1_s", "iq1_m", "iq2_xxs", "iq2_xs", "iq2_s", "iq2_m",
	"iq3_xxs", "iq3_xs", "iq3_s", "iq3_m", "iq4_nl", "iq4_xs", "tq1_0", "tq2_0", "mxfp4_moe",
	NULL
};

#define TYPE_LIST "f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k"

int export_gguf_type_find(const char *name, struct qt_err *err)
{
	for (int i = 0; i < EXPORT_GGUF_N_TYPES; i++)
		if (strcasecmp(name, export_gguf_type_names[i]) == 0)
			return i;
	for (int i = 0; other_ftypes[i]; i++)
		if (strcasecmp(name, other_ftypes[i]) == 0) {
			qt_err_set(err, QT_EDATA, "type \"%s\": a llama.cpp type export-gguf does not write "
			           "(" TYPE_LIST ")", name);
			return -1;
		}
	qt_err_set(err, QT_EUSAGE, "--type: \"%s\" is not a type (" TYPE_LIST ")", name);
	return -2;
}

/* ---- the tensors to write ---- */

enum src_kind { SRC_DENSE, SRC_NF4, SRC_MEM };

struct item {
	char                    name[GGUF_MAX_NAME]; /* GGUF name */
	int                     layer;      /* -1 outside the layers */
	enum src_kind           kind;
	const struct st_tensor *t;          /* SRC_DENSE */
	char                    prefix[160];/* SRC_NF4: module prefix */
	const float            *mem;        /* SRC_MEM: rows x cols row-major */
	float                   mul;        /* SRC_MEM: factor applied to every value */
	float                   add;        /* added to every value (gemma's norms: 1 + w) */
	int64_t                 rows, cols; /* HF shape; cols 0 for a vector */
	int64_t                 heads;      /* > 0: llama.cpp's Q/K row permutation with H heads */
	uint32_t                type;       /* ggml type written */
};

struct job {
	const struct export_gguf_opts *o;
	struct model_dir   md;
	int                md_open;
	struct adapter     ad;
	int                ad_open;
	const struct gguf_family *fam;
	struct item       *it;
	size_t             n, cap;
	struct gguf_writer w;
	struct export_gguf_stats st;
};

static struct item *add_item(struct job *j, const char *name, int layer, int64_t rows,
                             int64_t cols, struct qt_err *err)
{
	if (j->n == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 64;
		struct item *it = realloc(j->it, cap * sizeof *it);
		if (!it) {
			qt_err_set(err, QT_ESOFTWARE, "out of memory");
			return NULL;
		}
		j->it = it;
		j->cap = cap;
	}
	struct item *it = &j->it[j->n++];
	memset(it, 0, sizeof *it);
	snprintf(it->name, sizeof it->name, "%s", name);
	it->layer = layer;
	it->rows = rows;
	it->cols = cols;
	it->mul = 1.0f;
	return it;
}

/* llama_model_loader's weights_map order: layer (-1 first), then name. */
static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int64_t dim_of(const struct hf_config *c, enum gguf_dim d)
{
	switch (d) {
	case GGUF_DIM_C:  return c->hidden_size;
	case GGUF_DIM_I:  return c->intermediate_size;
	case GGUF_DIM_V:  return c->vocab_size;
	case GGUF_DIM_Q:  return c->num_attention_heads * c->head_dim;
	case GGUF_DIM_KV: return c->num_key_value_heads * c->head_dim;
	case GGUF_DIM_HD: return c->head_dim;
	case GGUF_DIM_QKV: return (c->num_attention_heads + 2 * c->num_key_value_heads) * c->head_dim;
	case GGUF_DIM_I2: return 2 * c->intermediate_size;
	}
	return 0;
}

/* Finds HF tensor hf in the model (dense or NF4) and checks its shape. */
static int bind_source(struct job *j, struct item *it, const char *hf, struct qt_err *err)
{
	const char *dir = j->o->model_dir;
	size_t len = strlen(hf);
	if (len > 7 && strcmp(hf + len - 7, ".weight") == 0 && len - 7 < sizeof it->prefix) {
		memcpy(it->prefix, hf, len - 7);
		it->prefix[len - 7] = '\0';
		if (nf4_weight_present(&j->md.weights, it->prefix)) {
			struct nf4_weight w;
			int st = nf4_weight_load(&j->md.weights, it->prefix, &w, err);
			if (st)
				return st;
			int ok = w.state.rows == it->rows && w.state.cols == it->cols;
			nf4_weight_free(&w);
			if (!ok)
				return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": NF4 shape does not match "
				                  "config.json [%lld, %lld]", dir, hf, (long long)it->rows,
				                  (long long)it->cols);
			it->kind = SRC_NF4;
			j->st.nf4 = 1;
			return QT_OK;
		}
	}
	const struct st_tensor *t = st_set_find(&j->md.weights, hf);
	if (!t)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": missing", dir, hf);
	int nd = it->cols ? 2 : 1;
	if (t->n_dims != nd || t->shape[0] != it->rows || (nd == 2 && t->shape[1] != it->cols))
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": shape does not match config.json "
		                  "(expected [%lld%s%lld])", dir, hf, (long long)it->rows,
		                  nd == 2 ? ", " : "", nd == 2 ? (long long)it->cols : 0LL);
	if (!qt_dtype_is_float(t->dtype))
		return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": dtype %s is not a float type", dir,
		                  hf, qt_dtype_name(t->dtype));
	it->kind = SRC_DENSE;
	it->t = t;
	return QT_OK;
}

/* The HF bias of each linear module, for messages (kernels/lora.h's order). */
static const char *const bias_name[7] = {
	"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
	"self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.down_proj.bias",
};

/* gemma's norms are stored as 1 + w (GemmaModel.modify_tensors adds 1 to every norm.weight). */
static void norm_add(const struct job *j, struct item *it)
{
	size_t len = strlen(it->name);
	if ((j->fam->flags & GGUF_FAM_NORM_PLUS_ONE) && len >= 11 &&
	    strcmp(it->name + len - 11, "norm.weight") == 0)
		it->add = 1.0f;
}

static int plan_model(struct job *j, struct qt_err *err)
{
	const struct hf_config *c = &j->md.config;
	struct item *it;
	int st;
	char hf[200], name[GGUF_MAX_NAME];
	/* every bias the model has must have a tensor in the architecture */
	for (int k = 0; k < 7; k++) {
		int has = 0;
		for (size_t i = 0; i < j->fam->n_layer; i++)
			has |= j->fam->layer[i].bias == k + 1;
		if (hf_config_has_bias(c, k) && !has)
			return qt_err_set(err, QT_EDATA, "%s/config.json: the model has %s (%s): llama.cpp's "
			                  "%s architecture has no such tensor", j->o->model_dir,
			                  bias_name[k], k < 4 ? "attention_bias" : "mlp_bias", j->fam->arch);
	}
	if (!(it = add_item(j, GGUF_TOKEN_EMBD, -1, c->vocab_size, c->hidden_size, err)) ||
	    (st = bind_source(j, it, "model.embed_tokens.weight", err)))
		return err->status;
	if (!(it = add_item(j, GGUF_OUTPUT_NORM, -1, c->hidden_size, 0, err)) ||
	    (st = bind_source(j, it, "model.norm.weight", err)))
		return err->status;
	norm_add(j, it);
	if (!c->tie_word_embeddings &&
	    (!(it = add_item(j, GGUF_OUTPUT, -1, c->vocab_size, c->hidden_size, err)) ||
	     (st = bind_source(j, it, "lm_head.weight", err))))
		return err->status;
	for (int64_t l = 0; l < c->num_hidden_layers; l++)
		for (size_t k = 0; k < j->fam->n_layer; k++) {
			const struct gguf_tname *tn = &j->fam->layer[k];
			if (tn->bias && !hf_config_has_bias(c, tn->bias - 1))
				continue;
			snprintf(hf, sizeof hf, "model.layers.%lld.%s", (long long)l, tn->hf);
			snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, tn->gguf);
			it = add_item(j, name, (int)l, dim_of(c, tn->rows), tn->cols ? dim_of(c, tn->cols) : 0,
			              err);
			if (!it || (st = bind_source(j, it, hf, err)))
				return err->status;
			norm_add(j, it);
			it->heads = tn->permute == GGUF_PERMUTE_Q ? c->num_attention_heads :
			            tn->permute == GGUF_PERMUTE_K ? c->num_key_value_heads : 0;
		}
	return QT_OK;
}

/* ---- llama.cpp's choice of tensor types (llama-quant.cpp) ---- */

static int use_more_bits(int i_layer, int n_layers)
{
	return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

static int is_quantized(uint32_t t)
{
	return t != GGML_TYPE_F32 && t != GGML_TYPE_F16 && t != GGML_TYPE_BF16;
}

/* tensor_type_fallback: a type whose block does not divide ne[0] falls back. */
static uint32_t fallback(uint32_t t, int64_t ne0)
{
	if (ne0 % ggml_type_get(t)->blck == 0)
		return t;
	uint32_t r = t == GGML_TYPE_Q4_K ? GGML_TYPE_Q5_0 : t == GGML_TYPE_Q5_K ? GGML_TYPE_Q5_1 :
	             t == GGML_TYPE_Q6_K ? GGML_TYPE_Q8_0 : t;
	return ne0 % ggml_type_get(r)->blck ? GGML_TYPE_F16 : r;
}

/* llama-quant.cpp's category_is_attn_v: attn_v, and the fused attn_qkv (phi3). */
static int is_attn_v(const char *name)
{
	return strstr(name, "attn_v.weight") || strstr(name, "attn_qkv.weight");
}

/* Sets every item's type for file type ft, in item (= llama.cpp's processing) order. */
static void choose_types(struct job *j, int ft)
{
	const struct hf_config *c = &j->md.config;
	uint32_t dflt = ftypes[ft].dflt;
	int n_attn_v = 0, i_attn_v = 0, i_ffn_down = 0, tied = 1;
	/* LLM_TYPE_70B: llama's 80 layers with GQA, qwen2's 80 layers */
	int is_70b = c->num_hidden_layers == 80 &&
	             ((strcmp(j->fam->arch, "llama") == 0 &&
	               c->num_attention_heads != c->num_key_value_heads) ||
	              strcmp(j->fam->arch, "qwen2") == 0);
	for (size_t i = 0; i < j->n; i++) {
		n_attn_v += is_attn_v(j->it[i].name);
		tied &= strcmp(j->it[i].name, GGUF_OUTPUT) != 0;
	}
	for (size_t i = 0; i < j->n; i++) {
		struct item *it = &j->it[i];
		size_t len = strlen(it->name);
		int quantize = it->cols && len >= 6 && strcmp(it->name + len - 6, "weight") == 0 &&
		               !strstr(it->name, "_norm.weight");
		if (!quantize) {
			it->type = GGML_TYPE_F32;
			continue;
		}
		uint32_t t = dflt;
		if (is_quantized(dflt)) {
			int64_t nx = it->cols;
			if (strcmp(it->name, GGUF_OUTPUT) == 0 || (tied && strcmp(it->name, GGUF_TOKEN_EMBD) == 0)) {
				if (nx % ggml_type_get(t)->blck)
					t = GGML_TYPE_Q8_0;
				else if (t != GGML_TYPE_Q8_0)
					t = GGML_TYPE_Q6_K;
			} else if (strcmp(it->name, GGUF_TOKEN_EMBD) == 0) {
				/* the default type */
			} else if (is_attn_v(it->name)) {
				if ((ft == EXPORT_GGUF_Q4_K_M || ft == EXPORT_GGUF_Q5_K_M) &&
				    use_more_bits(i_attn_v, n_attn_v))
					t = GGML_TYPE_Q6_K;
				if (is_70b && (t == GGML_TYPE_Q3_K || t == GGML_TYPE_Q4_K))
					t = GGML_TYPE_Q5_K;
				i_attn_v++;
			} else if (strstr(it->name, "ffn_down")) {
				if ((ft == EXPORT_GGUF_Q4_K_M || ft == EXPORT_GGUF_Q5_K_M) &&
				    use_more_bits(i_ffn_down, (int)c->num_hidden_layers))
					t = GGML_TYPE_Q6_K;
				i_ffn_down++;
			}
			t = fallback(t, nx);
		}
		it->type = t;
	}
}

/* ---- tensor data ---- */

/* The item's values in HF layout (rows x max(cols, 1)) as float32 into f. */
static int load_f32(struct job *j, const struct item *it, float *f, struct qt_err *err)
{
	uint64_t n = (uint64_t)it->rows * (uint64_t)(it->cols ? it->cols : 1);
	if (it->kind == SRC_MEM) {
		for (uint64_t k = 0; k < n; k++)
			f[k] = it->mem[k] * it->mul;
	} else if (it->kind == SRC_NF4) {
		/* dequantize_4bit: f32(code * absmax), returned in the quant_state dtype */
		struct nf4_weight w;
		int st = nf4_weight_load(&j->md.weights, it->prefix, &w, err);
		if (st)
			return st;
		nf4_weight_rows(&w, 0, it->rows, f);
		for (uint64_t k = 0; k < n && w.state.dtype != QT_DTYPE_F32; k++)
			f[k] = w.state.dtype == QT_DTYPE_BF16 ? qt_bf16_to_f32(qt_f32_to_bf16(f[k]))
			                                      : qt_f16_to_f32(qt_f32_to_f16(f[k]));
		nf4_weight_free(&w);
	} else {
		int st = st_tensor_to_f32(it->t, f, err);
		if (st)
			return st;
	}
	for (uint64_t k = 0; k < n && it->add != 0.0f; k++)
		f[k] += it->add;
	for (uint64_t k = 0; k < n; k++)
		if (!isfinite(f[k]))
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": non-finite value at element %llu",
			                  j->o->adapter_dir ? j->o->adapter_dir : j->o->model_dir, it->name,
			                  (unsigned long long)k);
	return QT_OK;
}

/* GGUF row r of a permuted tensor comes from HF row src_row(r) (reference.md 3.7). */
static int64_t src_row(int64_t r, int64_t rows, int64_t heads)
{
	if (heads <= 0)
		return r;
	int64_t hd = rows / heads, h = r / hd, i = (r % hd) / 2, jj = r % 2;
	return h * hd + jj * (hd / 2) + i;
}

struct qjob {
	const struct item *it;
	const float       *f;
	uint8_t           *out;
	int64_t            rows, cols, band;
	size_t             row_bytes;
};

static void quant_band(void *ctx, size_t b, int worker)
{
	struct qjob *q = ctx;
	(void)worker;
	for (int64_t r = (int64_t)b * q->band; r < ((int64_t)b + 1) * q->band && r < q->rows; r++)
		ggml_quant_row(q->it->type, q->f + src_row(r, q->rows, q->it->heads) * q->cols,
		               q->out + (size_t)r * q->row_bytes, q->cols);
}

static int write_tensors(struct job *j, struct qt_err *err)
{
	uint64_t max = 1;
	for (size_t i = 0; i < j->n; i++) {
		uint64_t n = (uint64_t)j->it[i].rows * (uint64_t)(j->it[i].cols ? j->it[i].cols : 1);
		if (n > max)
			max = n;
	}
	float *f = malloc(max * sizeof *f), *g = malloc(max * sizeof *g);
	uint8_t *out = malloc(max * 4);
	struct qt_progress pr;
	int st = f && g && out ? QT_OK : qt_err_set(err, QT_ESOFTWARE, "out of memory");
	if (j->o->progress)
		qt_progress_begin(&pr, "tensors", j->n);
	for (size_t i = 0; i < j->n && st == QT_OK; i++) {
		const struct item *it = &j->it[i];
		if ((st = load_f32(j, it, f, err)))
			break;
		struct qjob q = { it, f, out, it->rows, it->cols, 0, 0 };
		if (!it->cols) { /* a vector: one row, elements permuted like rows */
			for (int64_t r = 0; r < it->rows; r++)
				g[r] = f[src_row(r, it->rows, it->heads)];
			ggml_quant_row(it->type, g, out, it->rows);
		} else {
			q.row_bytes = (size_t)it->cols / ggml_type_get(it->type)->blck *
			              ggml_type_get(it->type)->size;
			q.band = (int64_t)(65536 / it->cols) + 1;
			qt_pool_for(j->o->n_threads, (size_t)((it->rows + q.band - 1) / q.band), quant_band, &q);
		}
		const struct gguf_winfo *wi = gguf_writer_next(&j->w);
		st = gguf_writer_put(&j->w, out, wi->size, err);
		j->st.n_params += (uint64_t)it->rows * (uint64_t)(it->cols ? it->cols : 1);
		j->st.n_of_type[it->type]++;
		if (j->o->progress)
			qt_progress_update(&pr, i + 1);
	}
	if (j->o->progress)
		qt_progress_end(&pr);
	free(f);
	free(g);
	free(out);
	return st;
}

/* ---- the two modes ---- */

/* The family of dir's config.json model_type (read raw, before the config is validated, so
 * that a model type llama.cpp has no name for gets this message). */
static int find_family(struct job *j, const char *dir, struct qt_err *err)
{
	char *path = qt_path_join(dir, HF_CONFIG_NAME), *txt = NULL;
	size_t len;
	int st = qt_read_file(path, &txt, &len, err);
	if (st == QT_OK) {
		json_t *root = json_loadb(txt, len, 0, NULL);
		json_t *mt = json_object_get(root, "model_type");
		if (json_is_string(mt) && !(j->fam = gguf_family_find(json_string_value(mt))))
			st = qt_err_set(err, QT_EDATA, "%s: model_type: \"%s\" has no llama.cpp architecture "
			                "that export-gguf writes (%s)", path, json_string_value(mt),
			                gguf_family_list());
		json_decref(root);
	}
	free(txt);
	free(path);
	return st;
}

static int open_model(struct job *j, const char *dir, int flags, struct qt_err *err)
{
	int st = find_family(j, dir, err);
	if (st || (st = model_dir_open(&j->md, dir, MODEL_DIR_NO_TENSOR_CHECK | flags, err)))
		return st;
	j->md_open = 1;
	if (!j->fam) /* config.json parsed without a model_type string: hfconfig refuses that */
		return qt_err_set(err, QT_EDATA, "%s: model_type: missing", dir);
	if (j->md.config.rope_scaling.type == HF_ROPE_LLAMA3)
		return qt_err_set(err, QT_EDATA, "%s/config.json: rope_scaling: llama3 scaling (llama.cpp's "
		                  "rope_freqs tensor) is not written by export-gguf", dir);
	return gguf_arch_check(j->fam, &j->md.config, dir, err);
}

static int plan_adapter(struct job *j, struct qt_err *err)
{
	const struct hf_config *c = &j->md.config;
	const char *adir = j->o->adapter_dir;
	struct adapter_dims d = {
		(int)c->num_hidden_layers, (int)c->hidden_size, (int)c->intermediate_size,
		(int)(c->num_attention_heads * c->head_dim), (int)(c->num_key_value_heads * c->head_dim),
		hf_config_fused(c),
	};
	int st = adapter_load(&j->ad, adir, &d, err);
	if (st)
		return st;
	j->ad_open = 1;
	if (j->ad.prefix)
		return qt_err_set(err, QT_EDATA, "%s: a prefix-tuning adapter (PREFIX_TUNING): "
		                  "llama.cpp's adapter GGUF holds LoRA pairs only", adir);
	double alpha = j->ad.cfg.lora_alpha;
	if (!(alpha > 0))
		return qt_err_set(err, QT_EDATA, "%s/%s: lora_alpha: %g; llama.cpp reads alpha 0 as "
		                  "\"no scaling\"", adir, ADAPTER_CONFIG_NAME, alpha);
	for (int l = 0; l < d.n_layers; l++)
		for (int m = 0; m < ADAPTER_N_MODULES; m++) {
			const struct lora_pair *p = adapter_at(&j->ad, l, m);
			char hf[96], name[GGUF_MAX_NAME];
			const struct gguf_tname *tn = NULL;
			if (!p->r)
				continue;
			snprintf(hf, sizeof hf, "%s.%s.weight", adapter_module_block[m],
			         adapter_module_name_of(&d, m));
			for (size_t k = 0; k < j->fam->n_layer && !tn; k++)
				if (strcmp(j->fam->layer[k].hf, hf) == 0)
					tn = &j->fam->layer[k];
			if (!tn)
				return qt_err_set(err, QT_ESOFTWARE, "no llama.cpp name for %s", hf);
			snprintf(name, sizeof name, "blk.%d.%s.lora_a", l, tn->gguf);
			struct item *a = add_item(j, name, l, p->r, p->in, err);
			if (!a)
				return err->status;
			a->kind = SRC_MEM;
			a->mem = p->A;
			snprintf(name, sizeof name, "blk.%d.%s.lora_b", l, tn->gguf);
			struct item *b = add_item(j, name, l, p->out, p->r, err);
			if (!b)
				return err->status;
			b->kind = SRC_MEM;
			b->mem = p->B;
			b->heads = tn->permute == GGUF_PERMUTE_Q ? c->num_attention_heads :
			           tn->permute == GGUF_PERMUTE_K ? c->num_key_value_heads : 0;
			/* llama.cpp scales by alpha / r: fold a different PEFT scaling into B */
			if (p->alpha != alpha || j->ad.cfg.use_rslora)
				b->mul = (float)((double)p->scaling * p->r / alpha);
		}
	if (!j->n)
		return qt_err_set(err, QT_EDATA, "%s: the adapter adapts no module", adir);
	return QT_OK;
}

static int kv_adapter(struct job *j, struct qt_err *err)
{
	int st;
	if ((st = gguf_arch_put_general(&j->w, j->fam, "adapter", j->o->adapter_dir, err)) ||
	    (st = gguf_writer_str(&j->w, "adapter.type", "lora", 4, err)) ||
	    (st = gguf_writer_f32(&j->w, "adapter.lora.alpha", (float)j->ad.cfg.lora_alpha, err)) ||
	    (st = gguf_writer_u32(&j->w, "general.file_type", ftypes[j->o->type].ftype, err)) ||
	    (st = gguf_writer_u32(&j->w, "general.quantization_version", 2, err)))
		return st;
	return QT_OK;
}

int export_gguf_run(const struct export_gguf_opts *o, struct export_gguf_stats *stats,
                    struct qt_err *err)
{
	struct job j;
	memset(&j, 0, sizeof j);
	j.o = o;
	gguf_writer_init(&j.w);
	int st;
	if (o->type < 0 || o->type >= EXPORT_GGUF_N_TYPES) {
		st = qt_err_set(err, QT_EUSAGE, "unknown file type %d", o->type);
		goto out;
	}
	if (o->adapter_dir) {
		if (is_quantized(ftypes[o->type].dflt)) {
			st = qt_err_set(err, QT_EDATA, "%s: type %s: a LoRA adapter is written as f32, f16 "
			                "or bf16", o->adapter_dir, export_gguf_type_names[o->type]);
			goto out;
		}
		if ((st = open_model(&j, o->model_dir, MODEL_DIR_NO_TOKENIZER, err)) ||
		    (st = plan_adapter(&j, err)) || (st = kv_adapter(&j, err)))
			goto out;
		for (size_t i = 0; i < j.n; i++)
			j.it[i].type = ftypes[o->type].dflt;
	} else {
		if ((st = open_model(&j, o->model_dir, 0, err)) || (st = plan_model(&j, err)) ||
		    (st = gguf_arch_put(&j.w, j.fam, &j.md.config, o->model_dir, ftypes[o->type].ftype,
		                        err)) ||
		    (st = gguf_tokenizer_put(&j.w, o->model_dir, &j.md.config, j.fam->arch, err)))
			goto out;
	}
	qsort(j.it, j.n, sizeof *j.it, cmp_item);
	if (!o->adapter_dir)
		choose_types(&j, o->type);
	for (size_t i = 0; i < j.n; i++) {
		const struct item *it = &j.it[i];
		uint64_t ne[2] = { (uint64_t)(it->cols ? it->cols : it->rows), (uint64_t)it->rows };
		if ((st = gguf_writer_tensor(&j.w, it->name, it->cols ? 2 : 1, ne, it->type, err)))
			goto out;
	}
	if ((st = gguf_writer_open(&j.w, o->output, err)) || (st = write_tensors(&j, err)))
		goto out;
	j.st.n_tensors = j.n;
	if ((st = gguf_writer_commit(&j.w, err)) == QT_OK) {
		struct stat sb;
		j.st.bytes = stat(o->output, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	}
out:
	gguf_writer_free(&j.w);
	if (j.md_open)
		model_dir_close(&j.md);
	if (j.ad_open)
		adapter_free(&j.ad);
	free(j.it);
	if (stats)
		*stats = j.st;
	return st;
}
