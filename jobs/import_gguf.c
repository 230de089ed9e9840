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
#include "formats/gguf_tokenizer.h"
#include "formats/hfconfig.h"
#include "formats/model_dir.h"
#include "formats/safetensors.h"
#include "kernels/ggml_dequant.h"

/* GGUF tensor name -> HF name (gguf-py tensor_mapping.py, llama arch). permute: 1 for
 * attn_q (H = head_count), 2 for attn_k (H = head_count_kv). */
static const struct { const char *gguf, *hf; int permute; } blk_names[] = {
	{ "attn_norm.weight",   "input_layernorm.weight",          0 },
	{ "attn_q.weight",      "self_attn.q_proj.weight",         1 },
	{ "attn_q.bias",        "self_attn.q_proj.bias",           1 },
	{ "attn_k.weight",      "self_attn.k_proj.weight",         2 },
	{ "attn_k.bias",        "self_attn.k_proj.bias",           2 },
	{ "attn_v.weight",      "self_attn.v_proj.weight",         0 },
	{ "attn_v.bias",        "self_attn.v_proj.bias",           0 },
	{ "attn_output.weight", "self_attn.o_proj.weight",         0 },
	{ "attn_output.bias",   "self_attn.o_proj.bias",           0 },
	{ "ffn_norm.weight",    "post_attention_layernorm.weight", 0 },
	{ "ffn_gate.weight",    "mlp.gate_proj.weight",            0 },
	{ "ffn_gate.bias",      "mlp.gate_proj.bias",              0 },
	{ "ffn_up.weight",      "mlp.up_proj.weight",              0 },
	{ "ffn_up.bias",        "mlp.up_proj.bias",                0 },
	{ "ffn_down.weight",    "mlp.down_proj.weight",            0 },
	{ "ffn_down.bias",      "mlp.down_proj.bias",              0 },
};

/* Writes the HF name of t into hf (cap 160) and its permutation kind; QT_EDATA if unknown. */
static int hf_name(const struct gguf_file *g, const struct gguf_tensor *t, int64_t n_layers,
                   char *hf, int *permute, struct qt_err *err)
{
	*permute = 0;
	if (strcmp(t->name, "token_embd.weight") == 0) { strcpy(hf, "model.embed_tokens.weight"); return QT_OK; }
	if (strcmp(t->name, "output_norm.weight") == 0) { strcpy(hf, "model.norm.weight"); return QT_OK; }
	if (strcmp(t->name, "output.weight") == 0) { strcpy(hf, "lm_head.weight"); return QT_OK; }
	if (strcmp(t->name, "rope_freqs.weight") == 0)
		return qt_err_set(err, QT_EDATA, "%s: tensor \"rope_freqs.weight\": llama3-style rope "
		                  "scaling is not supported by import-gguf", g->path);
	unsigned layer;
	int used = 0;
	if (sscanf(t->name, "blk.%u.%n", &layer, &used) == 1 && used > 0 && (int64_t)layer < n_layers)
		for (size_t i = 0; i < sizeof blk_names / sizeof blk_names[0]; i++)
			if (strcmp(t->name + used, blk_names[i].gguf) == 0) {
				snprintf(hf, 160, "model.layers.%u.%s", layer, blk_names[i].hf);
				*permute = blk_names[i].permute;
				return QT_OK;
			}
	return qt_err_set(err, QT_EDATA, "%s: tensor \"%s\": not a tensor of the llama architecture",
	                  g->path, t->name);
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

static int build_config(const struct gguf_file *g, enum qt_dtype dtype, struct hf_config *c,
                        struct qt_err *err)
{
	char *arch = NULL;
	int st = gguf_get_str(g, "general.architecture", &arch, err);
	if (st == 1)
		return qt_err_set(err, QT_EDATA, "%s: general.architecture: missing", g->path);
	if (st != QT_OK)
		return st;
	int ok = strcmp(arch, "llama") == 0;
	if (!ok)
		st = qt_err_set(err, QT_EDATA, "%s: general.architecture: \"%s\" is not supported (llama)",
		                g->path, arch);
	free(arch);
	if (!ok)
		return st;
	hf_config_defaults(c);
	int64_t v;
	if ((st = need_int(g, "llama.block_count", &c->num_hidden_layers, err)) ||
	    (st = need_int(g, "llama.embedding_length", &c->hidden_size, err)) ||
	    (st = need_int(g, "llama.feed_forward_length", &c->intermediate_size, err)) ||
	    (st = need_int(g, "llama.attention.head_count", &c->num_attention_heads, err)) ||
	    (st = need_int(g, "llama.context_length", &c->max_position_embeddings, err)))
		return st;
	c->num_key_value_heads = c->num_attention_heads;
	if (gguf_find(g, "llama.attention.head_count_kv") &&
	    (st = need_int(g, "llama.attention.head_count_kv", &c->num_key_value_heads, err)))
		return st;
	c->head_dim = c->hidden_size / c->num_attention_heads;
	static const char *const hd_keys[] = { "llama.attention.key_length", "llama.rope.dimension_count" };
	for (int i = 0; i < 2; i++)
		if (gguf_find(g, hd_keys[i])) {
			if ((st = need_int(g, hd_keys[i], &c->head_dim, err)))
				return st;
			break;
		}
	double d;
	if ((st = gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &d, err)) == 1)
		return qt_err_set(err, QT_EDATA, "%s: llama.attention.layer_norm_rms_epsilon: missing",
		                  g->path);
	if (st != QT_OK)
		return st;
	c->rms_norm_eps = hf_f32_shortest((float)d);
	c->rope_theta = 10000.0;
	if ((st = gguf_get_float(g, "llama.rope.freq_base", &d, err)) == QT_OK)
		c->rope_theta = hf_f32_shortest((float)d);
	else if (st != 1)
		return st;
	char *rs = NULL;
	if ((st = gguf_get_str(g, "llama.rope.scaling.type", &rs, err)) == QT_OK) {
		if (strcmp(rs, "linear") == 0) {
			c->rope_scaling.type = HF_ROPE_LINEAR;
			if (gguf_get_float(g, "llama.rope.scaling.factor", &d, err) != QT_OK) {
				free(rs);
				return qt_err_set(err, QT_EDATA, "%s: llama.rope.scaling.factor: missing",
				                  g->path);
			}
			c->rope_scaling.factor = hf_f32_shortest((float)d);
		} else if (strcmp(rs, "none") != 0) {
			st = qt_err_set(err, QT_EDATA, "%s: llama.rope.scaling.type: \"%s\" is not supported "
			                "(none, linear)", g->path, rs);
			free(rs);
			return st;
		}
		free(rs);
	} else if (st != 1) {
		return st;
	}
	const struct gguf_kv *toks = gguf_find(g, "tokenizer.ggml.tokens");
	const struct gguf_tensor *emb = gguf_find_tensor(g, "token_embd.weight");
	if (gguf_get_int(g, "llama.vocab_size", &v, err) == QT_OK)
		c->vocab_size = v;
	else if (toks && toks->v.type == GGUF_VT_ARRAY)
		c->vocab_size = (int64_t)toks->v.len;
	else if (emb)
		c->vocab_size = (int64_t)emb->ne[1];
	c->tie_word_embeddings = gguf_find_tensor(g, "output.weight") == NULL;
	c->attention_bias = gguf_find_tensor(g, "blk.0.attn_q.bias") != NULL;
	c->mlp_bias = gguf_find_tensor(g, "blk.0.ffn_gate.bias") != NULL;
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
	size_t          n;
};

static int make_plan(const struct gguf_file *g, const struct hf_config *c, enum qt_dtype dtype,
                     struct plan *p, struct qt_err *err)
{
	p->n = g->n_tensors;
	p->specs = calloc(p->n + 1, sizeof *p->specs);
	p->names = calloc(p->n + 1, sizeof *p->names);
	p->perm = calloc(p->n + 1, sizeof *p->perm);
	if (!p->specs || !p->names || !p->perm)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	for (size_t i = 0; i < p->n; i++) {
		const struct gguf_tensor *t = &g->tensors[i];
		int st = hf_name(g, t, c->num_hidden_layers, p->names[i], &p->perm[i], err);
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
		if ((st = gguf_get_int(&g, "llama.context_length", &ctx, err)) == 1)
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
	if ((st = build_config(&g, o->dtype, &c, err)) || (st = make_plan(&g, &c, o->dtype, &p, err)))
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
	gguf_close(&g);
	return st;
}
