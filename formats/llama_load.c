/* qlora-tools: ISC license. */
/* Model directory -> engine weights; see llama_load.h. */
#include "formats/llama_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/rope.h"

/* HF module names, in llama_module order. */
static const char *const module_key[LLAMA_N_MODULES] = {
	"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
	"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
};

struct owned {
	float **bufs;
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

/* Copies tensor name (expected n elements) into a new owned f32 buffer. */
static float *take(struct owned *o, const struct model_dir *d, const char *name, size_t n,
                   struct qt_err *err)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64;
		float **nb = realloc(o->bufs, cap * sizeof *nb);
		if (!nb) {
			qt_err_set(err, QT_ESOFTWARE, "out of memory");
			return NULL;
		}
		o->bufs = nb;
		o->cap = cap;
	}
	float *p = malloc(n * sizeof(float));
	if (!p) {
		qt_err_set(err, QT_ESOFTWARE, "out of memory loading %s", name);
		return NULL;
	}
	o->bufs[o->n++] = p;
	if (model_dir_tensor_f32(d, name, p, n, err) != QT_OK)
		return NULL;
	return p;
}

struct adapter_dims llama_adapter_dims(const struct llama_config *c)
{
	return (struct adapter_dims){ .n_layers = c->n_layer, .hidden = c->C, .intermediate = c->H,
	                              .q_dim = c->NH * c->HD, .kv_dim = c->NKV * c->HD };
}

int llama_load(struct llama_model *m, const struct model_dir *d, struct qt_err *err)
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
	rope_inv_freq(m->inv_freq, c->HD, h->rope_theta, &rs);

	size_t C = (size_t)c->C, V = (size_t)c->V;
	if (!(m->embed = take(o, d, "model.embed_tokens.weight", V * C, err)) ||
	    !(m->final_norm = take(o, d, "model.norm.weight", C, err)))
		goto fail;
	m->lm_head = (struct llama_linear){ .OC = c->V, .C = c->C };
	if (h->tie_word_embeddings)
		m->lm_head.w = m->embed;
	else if (!(m->lm_head.w = take(o, d, "lm_head.weight", V * C, err)))
		goto fail;
	struct adapter_dims dims = llama_adapter_dims(c);
	for (int l = 0; l < c->n_layer; l++) {
		struct llama_layer *L = &m->layers[l];
		char name[128];
		snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", l);
		if (!(L->attn_norm = take(o, d, name, C, err)))
			goto fail;
		snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", l);
		if (!(L->mlp_norm = take(o, d, name, C, err)))
			goto fail;
		for (int k = 0; k < LLAMA_N_MODULES; k++) {
			int in, out;
			adapter_module_shape(&dims, k, &in, &out);
			snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, module_key[k]);
			L->lin[k] = (struct llama_linear){ .OC = out, .C = in };
			if (!(L->lin[k].w = take(o, d, name, (size_t)in * out, err)))
				goto fail;
		}
	}
	return QT_OK;
fail:
	llama_free(m);
	return err ? err->status : QT_EDATA;
}
