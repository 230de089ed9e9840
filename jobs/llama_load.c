/* qlora-tools: ISC license. */
/* Model directory -> engine weights; see llama_load.h. */
#include "jobs/llama_load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "formats/nf4.h"
#include "kernels/nf4.h"
#include "kernels/rope.h"

/* HF module names, in llama_module order. */
static const char *const module_key[LLAMA_N_MODULES] = {
	"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
	"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
};

struct owned {
	void  **bufs;
	size_t  n, cap;
};

static void release(struct llama_model *m)
{
	struct owned *o = m->owned;
	if (o) {
		for (size_t i = 0; i < o->n; i++)
			free(o->bufs[i]);
		free(o->bufs);
		free(o);
	}
	free(m->layers);
	free(m->inv_freq);
}

/* Records p (may be NULL: then out of memory) as owned; returns p, or NULL on failure. */
static void *own(struct owned *o, void *p, const char *name, struct qt_err *err)
{
	if (p && o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64;
		void **nb = realloc(o->bufs, cap * sizeof *nb);
		if (!nb) {
			free(p);
			p = NULL;
		} else {
			o->bufs = nb;
			o->cap = cap;
		}
	}
	if (!p) {
		qt_err_set(err, QT_ESOFTWARE, "out of memory loading %s", name);
		return NULL;
	}
	o->bufs[o->n++] = p;
	return p;
}

/* Copies tensor name (expected n elements) into a new owned f32 buffer. */
static float *take(struct owned *o, const struct model_dir *d, const char *name, size_t n,
                   struct qt_err *err)
{
	float *p = own(o, malloc(n * sizeof(float)), name, err);
	if (!p || model_dir_tensor_f32(d, name, p, n, err) != QT_OK)
		return NULL;
	return p;
}

/* An RMSNorm weight as the model multiplies by it: Gemma's 1 + w (in float32, as
 * GemmaRMSNorm computes it), the others' w. */
static float *take_norm(struct owned *o, const struct model_dir *d, const char *name, size_t n,
                        struct qt_err *err)
{
	float *w = take(o, d, name, n, err);
	if (w && hf_config_norm_plus_one(&d->config))
		for (size_t i = 0; i < n; i++)
			w[i] = 1.0f + w[i];
	return w;
}

/*
 * Fills lin from the NF4 weight of module prefix (nf4(5)): the packed codes are copied (the
 * model does not depend on the mapping), absmax is rebuilt (nested dequantization done here,
 * once), and the kernels make f32 tiles of it as they multiply by it.
 */
static int take_nf4(struct owned *o, const struct model_dir *d, const char *prefix,
                    struct frozen_linear *lin, struct qt_err *err)
{
	struct nf4_weight w;
	struct qt_err e2;
	if (nf4_weight_load(&d->weights, prefix, &w, &e2) != QT_OK)
		return qt_err_set(err, e2.status, "%s: %s", d->path, e2.msg);
	if (w.state.rows != lin->OC || w.state.cols != lin->C) {
		nf4_weight_free(&w);
		return qt_err_set(err, QT_EDATA, "%s: %s: NF4 shape [%lld, %lld], config.json implies "
		                  "[%d, %d]", d->path, prefix, (long long)w.state.rows,
		                  (long long)w.state.cols, lin->OC, lin->C);
	}
	size_t nb = nf4_packed_bytes((size_t)lin->OC * lin->C);
	uint8_t *packed = own(o, malloc(nb), prefix, err);
	float *code = packed ? own(o, malloc(sizeof w.code), prefix, err) : NULL;
	float *absmax = code ? own(o, w.absmax, prefix, err) : NULL;
	if (!absmax) {
		if (!code)  /* else own() has freed w.absmax already */
			nf4_weight_free(&w);
		return QT_ESOFTWARE;
	}
	memcpy(packed, w.packed, nb);
	memcpy(code, w.code, sizeof w.code);
	lin->nf4 = packed;
	lin->absmax = absmax;
	lin->code = code;
	lin->blocksize = w.state.blocksize;
	lin->deq_dtype = w.state.dtype;
	return QT_OK;
}

/*
 * The NF4 weights of the modules that read the same input, q, k, v (k == LLAMA_Q) or gate, up
 * (k == LLAMA_GATE), into lin[k ..] with their codes in one owned buffer and their block maxima
 * in another, one after another, so that kernels/model multiplies by them as one weight (as by
 * take_group's f32 weights). 1 when done, 0 when they are not all NF4 with blocks that end
 * where a module does (each is then read on its own), QT_* on an error.
 */
static int take_nf4_group(struct owned *o, const struct model_dir *d,
                          const struct adapter_dims *dims, int l, int k,
                          struct frozen_linear *lin, struct qt_err *err)
{
	int n = k == LLAMA_Q ? 3 : 2, got = 0, rc = 0, in[3], out[3];
	struct nf4_weight w[3];
	size_t elems = 0, blocks = 0;
	for (int i = 0; i < n; i++) {
		char name[128];
		struct qt_err e2;
		const char *mod = adapter_module_name_of(dims, k + i);
		if (!mod)
			goto done;
		snprintf(name, sizeof name, "model.layers.%d.%s.%s", l, adapter_module_block[k + i], mod);
		if (!nf4_weight_present(&d->weights, name))
			goto done;
		if (nf4_weight_load(&d->weights, name, &w[i], &e2) != QT_OK) {
			rc = qt_err_set(err, e2.status, "%s: %s", d->path, e2.msg);
			goto done;
		}
		got++;
		adapter_module_shape(dims, k + i, &in[i], &out[i]);
		size_t e = (size_t)in[i] * out[i], bs = w[i].state.blocksize;
		if (w[i].state.rows != out[i] || w[i].state.cols != in[i] || bs % 2 || e % bs ||
		    bs != w[0].state.blocksize || w[i].state.dtype != w[0].state.dtype ||
		    memcmp(w[i].code, w[0].code, sizeof w[0].code) || w[i].n_blocks != e / bs)
			goto done; /* take_nf4 reads (and checks) each on its own */
		elems += e;
		blocks += w[i].n_blocks;
	}
	uint8_t *packed = own(o, malloc(elems / 2), "NF4 codes", err);
	float *absmax = packed ? own(o, malloc(blocks * sizeof *absmax), "NF4 blocks", err) : NULL;
	float *code = absmax ? own(o, malloc(sizeof w[0].code), "NF4 table", err) : NULL;
	if (!code) {
		rc = QT_ESOFTWARE;
		goto done;
	}
	memcpy(code, w[0].code, sizeof w[0].code);
	for (int i = 0; i < n; i++) {
		size_t e = (size_t)in[i] * out[i];
		memcpy(packed, w[i].packed, e / 2);
		memcpy(absmax, w[i].absmax, w[i].n_blocks * sizeof *absmax);
		lin[k + i] = (struct frozen_linear){ .OC = out[i], .C = in[i], .nf4 = packed,
		                                     .absmax = absmax, .code = code,
		                                     .blocksize = w[i].state.blocksize,
		                                     .deq_dtype = w[i].state.dtype };
		packed += e / 2;
		absmax += w[i].n_blocks;
	}
	rc = 1;
done:
	for (int i = 0; i < got; i++)
		nf4_weight_free(&w[i]);
	return rc;
}

/*
 * One owned buffer for the f32 weights of the modules that read the same input, q, k, v (from
 * k == LLAMA_Q) or gate, up (from k == LLAMA_GATE), in that order: kernels/model multiplies by
 * weights that lie one after another as one GEMM. NULL when any of them is absent, a part of a
 * fused projection or NF4 (or memory is short): each is then read on its own.
 */
static float *take_group(struct owned *o, const struct model_dir *d,
                         const struct adapter_dims *dims, int l, int k, struct qt_err *err)
{
	int n = k == LLAMA_Q ? 3 : 2;
	size_t total = 0;
	for (int i = k; i < k + n; i++) {
		int in, out;
		char name[128];
		const char *mod = adapter_module_name_of(dims, i);
		if (!mod)
			return NULL;
		snprintf(name, sizeof name, "model.layers.%d.%s.%s", l, adapter_module_block[i], mod);
		if (nf4_weight_present(&d->weights, name))
			return NULL;
		adapter_module_shape(dims, i, &in, &out);
		total += (size_t)in * out;
	}
	float *p = malloc(total * sizeof(float));
	return p ? own(o, p, "a layer's projections", err) : NULL; /* NULL: read them one by one */
}

/* Every tensor is copied out of the mapped weight files, so their pages need not stay resident:
 * dropped as loading goes (a 7B NF4 model's 3.9 GB of mapped pages counted in RSS). A later read,
 * if any, faults them back in from the page cache. */
static void drop_mapped(const struct model_dir *d)
{
	for (size_t i = 0; i < d->weights.n_files; i++) {
		const struct qt_map *mp = &d->weights.files[i].map;
		if (mp->size)
			madvise((void *)(uintptr_t)mp->data, mp->size, MADV_DONTNEED);
	}
}

/* A bf16 copy of lin->w when every value survives the round trip exactly. */
static int add_bf16(struct owned *o, struct frozen_linear *lin, const char *name,
                    struct qt_err *err)
{
	size_t n = (size_t)lin->OC * lin->C;
	if (!lin->w || lin->wb)
		return QT_OK;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &lin->w[i], sizeof u);
		if (u & 0xffffu)
			return QT_OK;
	}
	uint16_t *b = own(o, malloc(n * sizeof *b), name, err);
	if (!b)
		return QT_ESOFTWARE;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &lin->w[i], sizeof u);
		b[i] = (uint16_t)(u >> 16);
	}
	lin->wb = b;
	return QT_OK;
}

int llama_bf16_rows(struct llama_model *m, struct qt_err *err)
{
	if (!m->owned)
		return qt_err_set(err, QT_ESOFTWARE, "llama_bf16_rows: not a loaded model");
	for (int l = 0; l < m->cfg.n_layer; l++)
		for (int k = 0; k < LLAMA_N_MODULES; k++)
			if (add_bf16(m->owned, &m->layers[l].lin[k], module_key[k], err))
				return QT_ESOFTWARE;
	return add_bf16(m->owned, &m->lm_head, "lm_head", err);
}

struct adapter_dims llama_adapter_dims(const struct llama_config *c)
{
	return (struct adapter_dims){ .n_layers = c->n_layer, .hidden = c->C, .intermediate = c->H,
	                              .q_dim = c->NH * c->HD, .kv_dim = c->NKV * c->HD,
	                              .fused = c->fused };
}

/* Tensor name (n elements) as its bf16 bits in a new owned buffer when it is stored as BF16,
 * else NULL with *st QT_OK (read it as f32). */
static uint16_t *take_bf16(struct owned *o, const struct model_dir *d, const char *name, size_t n,
                           int *st, struct qt_err *err)
{
	const struct st_tensor *t = model_dir_tensor(d, name);
	*st = QT_OK;
	if (!t || t->dtype != QT_DTYPE_BF16 || t->n_elem != n || t->size != n * sizeof(uint16_t))
		return NULL;
	uint16_t *p = own(o, malloc(n * sizeof *p), name, err);
	if (!p)
		*st = QT_ESOFTWARE;
	else
		memcpy(p, t->data, n * sizeof *p);
	return p;
}

int llama_load(struct llama_model *m, const struct model_dir *d, struct qt_err *err)
{
	return llama_load_opts(m, d, 0, err);
}

int llama_load_opts(struct llama_model *m, const struct model_dir *d, int flags,
                    struct qt_err *err)
{
	memset(m, 0, sizeof *m);
	const struct hf_config *h = &d->config;
	struct llama_config *c = &m->cfg;
	c->n_layer = (int)h->num_hidden_layers;
	c->C = (int)h->hidden_size;
	c->H = (int)h->intermediate_size;
	c->NH = (int)h->num_attention_heads;
	c->NKV = (int)h->num_key_value_heads;
	c->HD = (int)h->head_dim;
	c->V = (int)h->vocab_size;
	c->eps = (float)h->rms_norm_eps;
	c->act = h->gelu_tanh ? LLAMA_ACT_GELU_TANH : LLAMA_ACT_SILU;
	c->embed_scale = hf_config_embed_scale(h);
	if (h->query_pre_attn_scalar > 0)
		c->attn_scale = (float)pow(h->query_pre_attn_scalar, -0.5);
	c->attn_softcap = (float)h->attn_logit_softcapping;
	c->final_softcap = (float)h->final_logit_softcapping;
	c->fused = hf_config_fused(h);
	c->rot = (int)hf_config_rotary_dim(h);
	c->rope_interleaved = hf_config_rope_interleaved(h);
	m->release = release;
	struct owned *o = calloc(1, sizeof *o);
	m->owned = o;
	m->layers = calloc((size_t)c->n_layer, sizeof *m->layers);
	m->inv_freq = malloc((size_t)c->HD / 2 * sizeof(float));
	if (!o || !m->layers || !m->inv_freq) {
		llama_free(m);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	struct rope_scaling rs = {
		.type = h->rope_scaling.type == HF_ROPE_LINEAR ? ROPE_LINEAR
		      : h->rope_scaling.type == HF_ROPE_LLAMA3 ? ROPE_LLAMA3 : ROPE_DEFAULT,
		.factor = h->rope_scaling.factor,
		.low_freq_factor = h->rope_scaling.low_freq_factor,
		.high_freq_factor = h->rope_scaling.high_freq_factor,
		.original_max_position = (double)h->rope_scaling.original_max_position_embeddings,
	};
	rope_inv_freq(m->inv_freq, llama_rot(c), h->rope_theta, &rs);
	int32_t *window = own(o, calloc((size_t)c->n_layer + 1, sizeof *window), "windows", err);
	if (!window)
		goto fail;
	for (int l = 0; l < c->n_layer; l++) {
		int64_t w = hf_config_layer_window(h, l);
		window[l] = w > INT32_MAX ? INT32_MAX : (int32_t)w;
	}
	c->window = window;

	size_t C = (size_t)c->C, V = (size_t)c->V;
	int st = QT_OK, bv = flags & LLAMA_LOAD_BF16_VOCAB;
	const char *ename = "model.embed_tokens.weight";
	if (bv && !(m->embed_b = take_bf16(o, d, ename, V * C, &st, err)) && st)
		goto fail;
	if ((!m->embed_b && !(m->embed = take(o, d, ename, V * C, err))) ||
	    !(m->final_norm = take_norm(o, d, "model.norm.weight", C, err)))
		goto fail;
	m->lm_head = (struct frozen_linear){ .OC = c->V, .C = c->C };
	if (h->tie_word_embeddings) {
		m->lm_head.w = m->embed;
		m->lm_head.wb = m->embed_b;
	} else if (bv && !(m->lm_head.wb = take_bf16(o, d, "lm_head.weight", V * C, &st, err)) &&
	           st) {
		goto fail;
	} else if (!m->lm_head.wb && !(m->lm_head.w = take(o, d, "lm_head.weight", V * C, err))) {
		goto fail;
	}
	struct adapter_dims dims = llama_adapter_dims(c);
	for (int l = 0; l < c->n_layer; l++) {
		drop_mapped(d);
		struct llama_layer *L = &m->layers[l];
		char name[128];
		struct hf_norm_names nn = hf_config_norm_names(h);
		const char *nname[4] = { nn.attn_in, nn.attn_out, nn.mlp_in, nn.mlp_out };
		const float **nw[4] = { &L->attn_norm, &L->post_attn_norm, &L->mlp_norm,
		                        &L->post_mlp_norm };
		for (int k = 0; k < 4; k++) {
			if (!nname[k])
				continue;
			snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, nname[k]);
			if (!(*nw[k] = take_norm(o, d, name, C, err)))
				goto fail;
		}
		if (hf_config_has_qk_norm(h)) {
			snprintf(name, sizeof name, "model.layers.%d.self_attn.q_norm.weight", l);
			if (!(L->q_norm = take(o, d, name, (size_t)c->HD, err)))
				goto fail;
			snprintf(name, sizeof name, "model.layers.%d.self_attn.k_norm.weight", l);
			if (!(L->k_norm = take(o, d, name, (size_t)c->HD, err)))
				goto fail;
		}
		float *group = NULL; /* the f32 weights of q, k, v or of gate, up, one after another */
		int grouped = -1;    /* the last module of an NF4 group read whole */
		for (int k = 0; k < LLAMA_N_MODULES; k++) {
			int in, out;
			adapter_module_shape(&dims, k, &in, &out);
			if (k > grouped)
				L->lin[k] = (struct frozen_linear){ .OC = out, .C = in };
			const char *mod = adapter_module_name_of(&dims, k);
			if (!mod)
				continue; /* a part of a fused projection */
			snprintf(name, sizeof name, "model.layers.%d.%s.%s", l, adapter_module_block[k], mod);
			int g = k > grouped && (k == LLAMA_Q || k == LLAMA_GATE) &&
			        nf4_weight_present(&d->weights, name) ?
			        take_nf4_group(o, d, &dims, l, k, L->lin, err) : 0;
			if (g < 0 || g > 1)
				goto fail;
			if (g)
				grouped = k + (k == LLAMA_Q ? 2 : 1);
			if (k <= grouped) {
				/* read with its group */
			} else if (nf4_weight_present(&d->weights, name)) {
				if (take_nf4(o, d, name, &L->lin[k], err) != QT_OK)
					goto fail;
			} else {
				if (k == LLAMA_Q || k == LLAMA_GATE)
					group = take_group(o, d, &dims, l, k, err);
				snprintf(name, sizeof name, "model.layers.%d.%s.%s.weight", l,
				         adapter_module_block[k], mod);
				size_t n = (size_t)in * out;
				float *w = group ? group : take(o, d, name, n, err);
				if (!w || (group && model_dir_tensor_f32(d, name, w, n, err) != QT_OK))
					goto fail;
				L->lin[k].w = w;
				if (group)
					group = k == LLAMA_V || k == LLAMA_UP ? NULL : group + n;
			}
			snprintf(name, sizeof name, "model.layers.%d.%s.%s.bias", l, adapter_module_block[k],
			         mod);
			if (hf_config_has_bias(h, k) && !(L->lin[k].bias = take(o, d, name, (size_t)out, err)))
				goto fail;
		}
	}
	drop_mapped(d);
	return QT_OK;
fail:
	llama_free(m);
	return err ? err->status : QT_EDATA;
}
