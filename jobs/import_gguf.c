/* qlora-tools: ISC license. */
/* GGUF -> HF model directory; see import_gguf.h and import-gguf(1). */
#include "jobs/import_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "common/io.h"
#include "common/progress.h"
#include "formats/gguf.h"
#include "formats/gguf_arch.h"
#include "formats/gguf_tokenizer.h"
#include "formats/hfconfig.h"
#include "formats/model_dir.h"
#include "formats/safetensors.h"
#include "kernels/ggml_dequant.h"

/* Writes the HF name of t into hf (cap 160), its permutation kind (1: attn_q rows with
 * H = head_count, 2: attn_k with H = head_count_kv) and what to add to its values (-1 for
 * gemma's norms, stored as 1 + w); QT_EDATA if the family has no such tensor. */
static int hf_name(const struct gguf_file *g, const struct gguf_family *fam,
                   const struct gguf_tensor *t, int64_t n_layers, char *hf, int *permute,
                   float *add, struct qt_err *err)
{
	*permute = 0;
	*add = 0.0f;
	size_t len = strlen(t->name);
	if ((fam->flags & GGUF_FAM_NORM_PLUS_ONE) && len >= 11 &&
	    strcmp(t->name + len - 11, "norm.weight") == 0)
		*add = -1.0f;
	if (strcmp(t->name, GGUF_TOKEN_EMBD) == 0) { strcpy(hf, "model.embed_tokens.weight"); return QT_OK; }
	if (strcmp(t->name, GGUF_OUTPUT_NORM) == 0) { strcpy(hf, "model.norm.weight"); return QT_OK; }
	if (strcmp(t->name, GGUF_OUTPUT) == 0 && !(fam->flags & GGUF_FAM_TIED)) {
		strcpy(hf, "lm_head.weight");
		return QT_OK;
	}
	if (strcmp(t->name, "rope_freqs.weight") == 0)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"rope_freqs.weight\": llama3-style rope "
		                  "scaling is not supported by import-gguf", g->path);
	unsigned layer;
	int used = 0;
	if (sscanf(t->name, "blk.%u.%n", &layer, &used) == 1 && used > 0 && (int64_t)layer < n_layers)
		for (size_t i = 0; i < fam->n_layer; i++)
			if (strcmp(t->name + used, fam->layer[i].gguf) == 0) {
				snprintf(hf, 160, "model.layers.%u.%s", layer, fam->layer[i].hf);
				*permute = fam->layer[i].permute == GGUF_PERMUTE_Q ? 1 :
				           fam->layer[i].permute == GGUF_PERMUTE_K ? 2 : 0;
				return QT_OK;
			}
	return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": not a tensor of the %s architecture",
	                  g->path, t->name, fam->arch);
}

/* ---- config ---- */

static int need_int(const struct gguf_file *g, const char *key, int64_t *out, struct qt_err *err)
{
	int r = gguf_get_int(g, key, out, err);
	if (r == 1)
		return qt_err_set(err, QT_EDATA, "%s: %s: missing", g->path, key);
	if (r == QT_OK && *out <= 0)
		return qt_err_set(err, QT_EDATA, "%s: %s: %lld is not positive", g->path, key,
		                  (long long)*out);
	return r;
}

static int opt_id(const struct gguf_file *g, const char *key, struct hf_token_ids *ids,
                  struct qt_err *err)
{
	int64_t v;
	memset(ids, 0, sizeof *ids);
	int r = gguf_get_int(g, key, &v, err);
	if (r == 1)
		return QT_OK;
	if (r != QT_OK)
		return r;
	ids->n = 1;
	ids->id[0] = v;
	return QT_OK;
}

/* The family of the file's general.architecture into *fam. */
static int find_family(const struct gguf_file *g, const struct gguf_family **fam,
                       struct qt_err *err)
{
	char *arch = NULL;
	int st = gguf_get_str(g, "general.architecture", &arch, err);
	if (st == 1)
		return qt_err_set(err, QT_EDATA, "%s: general.architecture: missing", g->path);
	if (st != QT_OK)
		return st;
	if (!(*fam = gguf_family_of_arch(arch)))
		st = qt_err_set(err, QT_EDATA, "%s: general.architecture: \"%s\" is not supported (%s)",
		                g->path, arch, gguf_arch_list());
	free(arch);
	return st;
}

/* "ARCH.key" of the family into k (cap 128). */
#define KEY(k, fam, key) (snprintf(k, sizeof k, "%s.%s", (fam)->arch, key), k)

/* gemma2: the soft caps (llama.cpp's defaults 50 and 30 when absent), the window and which
 * layers slide (sliding_window_pattern: a bool per layer or a period n, layer l sliding when
 * l % n < n - 1; absent: 2), the query scale llama.cpp fixes. */
static int gemma2_config(const struct gguf_file *g, const struct gguf_family *fam,
                         struct hf_config *c, struct qt_err *err)
{
	char k[128];
	double d;
	int st;
	c->attn_logit_softcapping = 50;
	c->final_logit_softcapping = 30;
	if ((st = gguf_get_float(g, KEY(k, fam, "attn_logit_softcapping"), &d, err)) == QT_OK)
		c->attn_logit_softcapping = hf_f32_shortest((float)d);
	else if (st != 1)
		return st;
	if ((st = gguf_get_float(g, KEY(k, fam, "final_logit_softcapping"), &d, err)) == QT_OK)
		c->final_logit_softcapping = hf_f32_shortest((float)d);
	else if (st != 1)
		return st;
	int64_t w = 4096, n = 2;
	if ((st = gguf_get_int(g, KEY(k, fam, "attention.sliding_window"), &w, err)) != QT_OK &&
	    st != 1)
		return st;
	if (w <= 0)
		return qt_err_set(err, QT_EDATA, "%s: %s: %lld is not positive", g->path, k, (long long)w);
	c->sliding_window = w;
	if (c->num_hidden_layers > HF_MAX_LAYER_TYPES)
		return qt_err_set(err, QT_EDATA, "%s: %lld layers: at most %d", g->path,
		                  (long long)c->num_hidden_layers, HF_MAX_LAYER_TYPES);
	const struct gguf_kv *pat = gguf_find(g, KEY(k, fam, "attention.sliding_window_pattern"));
	if (pat && pat->v.type == GGUF_VT_ARRAY) {
		if (pat->v.len != (uint64_t)c->num_hidden_layers ||
		    (pat->v.arr_type != GGUF_VT_BOOL && pat->v.arr_type != GGUF_VT_U32 &&
		     pat->v.arr_type != GGUF_VT_I32))
			return qt_err_set(err, QT_EDATA, "%s: %s: expected %lld bools", g->path, k,
			                  (long long)c->num_hidden_layers);
		for (int64_t l = 0; l < c->num_hidden_layers; l++)
			c->layer_sliding[l] = gguf_arr_int(&pat->v, (uint64_t)l) != 0;
	} else {
		if (pat && (st = gguf_get_int(g, k, &n, err)))
			return st;
		for (int64_t l = 0; l < c->num_hidden_layers; l++)
			c->layer_sliding[l] = n == 0 || l % n < n - 1;
	}
	c->n_layer_types = (int)c->num_hidden_layers;
	/* llama.cpp scales queries by head_dim^-0.5, or (hidden / heads)^-0.5 at 46 layers */
	c->query_pre_attn_scalar = (double)(c->num_hidden_layers == 46 ?
	                                    c->hidden_size / c->num_attention_heads : c->head_dim);
	return QT_OK;
}

static int build_config(const struct gguf_file *g, const struct gguf_family *fam,
                        enum qt_dtype dtype, struct hf_config *c, struct qt_err *err)
{
	char k[128];
	int st;
	hf_config_defaults(c);
	snprintf(c->model_type, sizeof c->model_type, "%s", fam->model_type);
	snprintf(c->architecture, sizeof c->architecture, "%s", fam->hf_arch);
	int64_t v;
	if ((st = need_int(g, KEY(k, fam, "block_count"), &c->num_hidden_layers, err)) ||
	    (st = need_int(g, KEY(k, fam, "embedding_length"), &c->hidden_size, err)) ||
	    (st = need_int(g, KEY(k, fam, "feed_forward_length"), &c->intermediate_size, err)) ||
	    (st = need_int(g, KEY(k, fam, "attention.head_count"), &c->num_attention_heads, err)) ||
	    (st = need_int(g, KEY(k, fam, "context_length"), &c->max_position_embeddings, err)))
		return st;
	c->num_key_value_heads = c->num_attention_heads;
	if (gguf_find(g, KEY(k, fam, "attention.head_count_kv")) &&
	    (st = need_int(g, k, &c->num_key_value_heads, err)))
		return st;
	c->head_dim = c->hidden_size / c->num_attention_heads;
	int64_t rot = 0;
	if (gguf_find(g, KEY(k, fam, "attention.key_length"))) {
		if ((st = need_int(g, k, &c->head_dim, err)))
			return st;
	} else if (gguf_find(g, KEY(k, fam, "rope.dimension_count")) &&
	           !(fam->flags & GGUF_FAM_PARTIAL_ROPE)) {
		if ((st = need_int(g, k, &c->head_dim, err)))
			return st;
	}
	rot = c->head_dim;
	if (gguf_find(g, KEY(k, fam, "rope.dimension_count")) && (st = need_int(g, k, &rot, err)))
		return st;
	if (rot != c->head_dim) {
		if (!(fam->flags & GGUF_FAM_PARTIAL_ROPE) || rot > c->head_dim || rot % 2)
			return qt_err_set(err, QT_EDATA, "%s: %s: %lld rotated dims of a head of %lld: "
			                  "not supported for the %s architecture", g->path, k,
			                  (long long)rot, (long long)c->head_dim, fam->arch);
		c->partial_rotary_factor = (double)rot / (double)c->head_dim;
		if (hf_config_rotary_dim(c) != rot)
			return qt_err_set(err, QT_EDATA, "%s: %s: %lld of %lld dims is no "
			                  "partial_rotary_factor", g->path, k, (long long)rot,
			                  (long long)c->head_dim);
	}
	double d;
	if ((st = gguf_get_float(g, KEY(k, fam, "attention.layer_norm_rms_epsilon"), &d, err)) == 1)
		return qt_err_set(err, QT_EDATA, "%s: %s: missing", g->path, k);
	if (st != QT_OK)
		return st;
	c->rms_norm_eps = hf_f32_shortest((float)d);
	c->rope_theta = 10000.0;
	if ((st = gguf_get_float(g, KEY(k, fam, "rope.freq_base"), &d, err)) == QT_OK)
		c->rope_theta = hf_f32_shortest((float)d);
	else if (st != 1)
		return st;
	char *rs = NULL;
	if ((st = gguf_get_str(g, KEY(k, fam, "rope.scaling.type"), &rs, err)) == QT_OK) {
		if (strcmp(rs, "linear") == 0) {
			c->rope_scaling.type = HF_ROPE_LINEAR;
			if (gguf_get_float(g, KEY(k, fam, "rope.scaling.factor"), &d, err) != QT_OK) {
				free(rs);
				return qt_err_set(err, QT_EDATA, "%s: %s: missing", g->path, k);
			}
			c->rope_scaling.factor = hf_f32_shortest((float)d);
		} else if (strcmp(rs, "none") != 0) {
			st = qt_err_set(err, QT_EDATA, "%s: %s: \"%s\" is not supported (none, linear)",
			                g->path, k, rs);
			free(rs);
			return st;
		}
		free(rs);
	} else if (st != 1) {
		return st;
	}
	const struct gguf_kv *toks = gguf_find(g, "tokenizer.ggml.tokens");
	const struct gguf_tensor *emb = gguf_find_tensor(g, "token_embd.weight");
	if (gguf_get_int(g, KEY(k, fam, "vocab_size"), &v, err) == QT_OK)
		c->vocab_size = v;
	else if (toks && toks->v.type == GGUF_VT_ARRAY)
		c->vocab_size = (int64_t)toks->v.len;
	else if (emb)
		c->vocab_size = (int64_t)emb->ne[1];
	c->tie_word_embeddings = gguf_find_tensor(g, "output.weight") == NULL;
	int q_bias = gguf_find_tensor(g, "blk.0.attn_q.bias") != NULL;
	const char *mt = fam->model_type;
	if (strcmp(mt, "llama") == 0) {
		c->attention_bias = q_bias;
		c->mlp_bias = gguf_find_tensor(g, "blk.0.ffn_gate.bias") != NULL;
	} else if (strcmp(mt, "glm") == 0 || strcmp(mt, "glm4") == 0) {
		c->attention_bias = q_bias;
	} else if (q_bias && strcmp(mt, "qwen2") != 0) {
		/* qwen3's, gemma's and gemma2's attention_bias gives o_proj a bias too */
		return qt_err_set(err, QT_EDATA, "%s: tensor \"blk.0.attn_q.bias\": HF's %s has q/k/v "
		                  "biases only with o_proj's (attention_bias), which llama.cpp's %s "
		                  "architecture has no tensor for", g->path, fam->hf_arch, fam->arch);
	}
	if (strcmp(mt, "qwen2") == 0 || strcmp(mt, "qwen3") == 0)
		c->max_window_layers = c->num_hidden_layers; /* use_sliding_window false */
	if (strcmp(mt, "phi3") == 0 &&
	    (st = gguf_get_int(g, KEY(k, fam, "attention.sliding_window"), &c->sliding_window,
	                       err)) != QT_OK && st != 1)
		return st;
	if (fam->flags & GGUF_FAM_SOFTCAP && (st = gemma2_config(g, fam, c, err)))
		return st;
	if (fam->flags & GGUF_FAM_NORM_PLUS_ONE)
		c->gelu_tanh = 1;
	snprintf(c->torch_dtype, sizeof c->torch_dtype, "%s", dtype == QT_DTYPE_F32 ? "float32" :
	         dtype == QT_DTYPE_F16 ? "float16" : "bfloat16");
	if ((st = opt_id(g, "tokenizer.ggml.bos_token_id", &c->bos, err)) ||
	    (st = opt_id(g, "tokenizer.ggml.eos_token_id", &c->eos, err)) ||
	    (st = opt_id(g, "tokenizer.ggml.padding_token_id", &c->pad, err)))
		return st;
	return hf_config_validate(c, g->path, err);
}

/* ---- tensors ---- */

/* Dequantizes t into dst (HF layout), undoing the Q/K row permutation when H > 0. */
static int load_tensor(const struct gguf_tensor *t, int64_t H, float *dst)
{
	const struct ggml_type_info *ti = ggml_type_get(t->type);
	int64_t cols = (int64_t)t->ne[0], rows = (int64_t)(t->n_elem / t->ne[0]);
	uint64_t row_bytes = t->ne[0] / ti->blck * ti->size;
	if (H <= 0)
		return ggml_dequant_row(t->type, t->data, dst, (int64_t)t->n_elem);
	if (rows == 1) { /* a bias: permute elements */
		int64_t hd = cols / H;
		float *tmp = malloc((size_t)cols * sizeof *tmp);
		if (!tmp || ggml_dequant_row(t->type, t->data, tmp, cols) != 0) {
			free(tmp);
			return -1;
		}
		for (int64_t r = 0; r < cols; r++) {
			int64_t h = r / hd, i = (r % hd) / 2, j = r % 2;
			dst[h * hd + j * (hd / 2) + i] = tmp[r];
		}
		free(tmp);
		return 0;
	}
	int64_t hd = rows / H;
	for (int64_t r = 0; r < rows; r++) {
		/* GGUF row h*hd + 2i + j holds HF row h*hd + j*hd/2 + i */
		int64_t h = r / hd, i = (r % hd) / 2, j = r % 2;
		int64_t hr = h * hd + j * (hd / 2) + i;
		if (ggml_dequant_row(t->type, t->data + (uint64_t)r * row_bytes, dst + hr * cols, cols))
			return -1;
	}
	return 0;
}

struct plan {
	struct st_spec *specs;
	char          (*names)[160];
	int            *perm;
	float          *add;
	size_t          n;
};

static int make_plan(const struct gguf_file *g, const struct gguf_family *fam,
                     const struct hf_config *c, enum qt_dtype dtype, struct plan *p,
                     struct qt_err *err)
{
	p->n = g->n_tensors;
	p->specs = calloc(p->n + 1, sizeof *p->specs);
	p->names = calloc(p->n + 1, sizeof *p->names);
	p->perm = calloc(p->n + 1, sizeof *p->perm);
	p->add = calloc(p->n + 1, sizeof *p->add);
	if (!p->specs || !p->names || !p->perm || !p->add)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (size_t i = 0; i < p->n; i++) {
		const struct gguf_tensor *t = &g->tensors[i];
		int st = hf_name(g, fam, t, c->num_hidden_layers, p->names[i], &p->perm[i], &p->add[i],
		                 err);
		if (st)
			return st;
		if (!ggml_dequant_supported(t->type))
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": ggml type %s cannot be "
			                  "dequantized (F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K "
			                  "Q5_K Q6_K)", g->path, t->name, ggml_type_get(t->type)->name);
		if (t->n_dims > 2)
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": %u dimensions (1 or 2 expected)",
			                  g->path, t->name, t->n_dims);
		int64_t H = p->perm[i] == 1 ? c->num_attention_heads :
		            p->perm[i] == 2 ? c->num_key_value_heads : 0;
		int64_t rows = t->n_dims == 2 ? (int64_t)t->ne[1] : (int64_t)t->ne[0];
		if (H && (rows % H || (rows / H) % 2))
			return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": %lld rows do not split into %lld "
			                  "heads of even size", g->path, t->name, (long long)rows, (long long)H);
		struct st_spec *s = &p->specs[i];
		s->name = p->names[i];
		s->dtype = dtype;
		s->n_dims = (int)t->n_dims;
		for (uint32_t d = 0; d < t->n_dims; d++) /* HF shape = reversed ne */
			s->shape[d] = (int64_t)t->ne[t->n_dims - 1 - d];
	}
	return QT_OK;
}

static int write_weights(const struct gguf_file *g, const struct hf_config *c, const struct plan *p,
                         const char *path, int progress, struct gguf_import_stats *stats,
                         struct qt_err *err)
{
	struct st_kv meta = { "format", "pt" };
	struct st_writer w;
	int st = st_writer_open(&w, path, p->specs, p->n, &meta, 1, err);
	if (st != QT_OK)
		return st;
	uint64_t max = 1;
	for (size_t i = 0; i < p->n; i++)
		if (g->tensors[i].n_elem > max)
			max = g->tensors[i].n_elem;
	float *f = malloc(max * sizeof *f);
	void *out = malloc(max * 4);
	struct qt_progress pr;
	if (progress)
		qt_progress_begin(&pr, "tensors", p->n);
	size_t i, done = 0;
	if (!f || !out)
		st = qt_err_set(err, QT_ESOFTWARE, "out of memory");
	while (st == QT_OK && (i = st_writer_next(&w)) != (size_t)-1) {
		const struct gguf_tensor *t = &g->tensors[i];
		int64_t H = p->perm[i] == 1 ? c->num_attention_heads :
		            p->perm[i] == 2 ? c->num_key_value_heads : 0;
		if (load_tensor(t, H, f) != 0) {
			st = qt_err_set(err, QT_ESOFTWARE, "%s: tensor \"%s\": dequantization failed",
			                g->path, t->name);
			break;
		}
		uint64_t n = t->n_elem, bytes;
		for (uint64_t e = 0; e < n && p->add[i] != 0.0f; e++)
			f[e] += p->add[i]; /* gemma's 1 + w back to w */
		if (p->specs[i].dtype == QT_DTYPE_F32) {
			memcpy(out, f, n * 4); /* little-endian hosts only, as the whole project */
			bytes = n * 4;
		} else if (p->specs[i].dtype == QT_DTYPE_F16) {
			qt_f32_to_f16_row(f, out, n);
			bytes = n * 2;
		} else {
			qt_f32_to_bf16_row(f, out, n);
			bytes = n * 2;
		}
		st = st_writer_put(&w, out, bytes, err);
		stats->n_params += n;
		stats->bytes_written += bytes;
		if (progress)
			qt_progress_update(&pr, ++done);
	}
	if (progress)
		qt_progress_end(&pr);
	free(f);
	free(out);
	if (st != QT_OK) {
		st_writer_abort(&w);
		return st;
	}
	stats->n_tensors = p->n;
	return st_writer_commit(&w, err);
}

int gguf_import_dir(const struct gguf_import_opts *o, struct gguf_import_stats *stats,
                    struct qt_err *err)
{
	struct gguf_file g;
	struct hf_config c;
	struct plan p = { 0 };
	memset(stats, 0, sizeof *stats);
	int st = gguf_open(&g, o->input, err);
	if (st != QT_OK)
		return st;
	char *tmp = NULL, *path = NULL;
	if (o->tokenizer_only) {
		/* the context length, when the file has one, is the tokenizer's model_max_length */
		int64_t ctx = 0;
		char *arch = NULL, k[128];
		if (gguf_get_str(&g, "general.architecture", &arch, err) != QT_OK)
			arch = NULL;
		snprintf(k, sizeof k, "%s.context_length", arch ? arch : "llama");
		free(arch);
		if ((st = gguf_get_int(&g, k, &ctx, err)) == 1)
			st = QT_OK, ctx = 0;
		if (st != QT_OK)
			goto out;
		if (!(tmp = qt_dir_begin(o->outdir, MODEL_DIR_TOKENIZER, err))) {
			st = err->status;
			goto out;
		}
		if ((st = gguf_tokenizer_write(&g, tmp, ctx, err)) == QT_OK)
			st = qt_dir_commit(tmp, o->outdir, err);
		goto out;
	}
	if (g.n_tensors == 0) {
		st = qt_err_set(err, QT_EDATA, "%s: a vocabulary-only GGUF (no tensors): it has no "
		                "weights to import; --tokenizer-only writes its tokenizer.json and "
		                "tokenizer_config.json", o->input);
		goto out;
	}
	const struct gguf_family *fam = NULL; /* set by find_family on success */
	if ((st = find_family(&g, &fam, err)) || (st = build_config(&g, fam, o->dtype, &c, err)) ||
	    (st = make_plan(&g, fam, &c, o->dtype, &p, err)))
		goto out;
	if (!(tmp = qt_dir_begin(o->outdir, HF_CONFIG_NAME, err))) {
		st = err->status;
		goto out;
	}
#define JOIN(name) (free(path), path = qt_path_join(tmp, name))
	if ((st = write_weights(&g, &c, &p, JOIN(ST_SINGLE_NAME), o->progress, stats, err)) ||
	    (st = hf_config_write(JOIN(HF_CONFIG_NAME), &c, err)) ||
	    (st = hf_genconfig_write(JOIN(HF_GENCONFIG_NAME), &c.bos, &c.eos, &c.pad, err)) ||
	    (st = gguf_tokenizer_write(&g, tmp, c.max_position_embeddings, err)))
		goto out;
#undef JOIN
	/* self-check: the directory opens as a model dir with every tensor where it belongs */
	struct model_dir md;
	if ((st = model_dir_open(&md, tmp, 0, err)) != QT_OK) {
		char msg[sizeof err->msg];
		snprintf(msg, sizeof msg, "%s", err->msg);
		st = qt_err_set(err, QT_EDATA, "%s: imported directory does not check: %s", o->input, msg);
		goto out;
	}
	stats->tied = md.config.tie_word_embeddings;
	model_dir_close(&md);
	st = qt_dir_commit(tmp, o->outdir, err);
out:
	if (st != QT_OK && tmp)
		qt_dir_abort(tmp);
	free(tmp);
	free(path);
	free(p.specs);
	free(p.names);
	free(p.perm);
	free(p.add);
	gguf_close(&g);
	return st;
}
