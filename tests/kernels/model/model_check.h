/* qlora-tools: ISC license. */
/* Helpers of the model tests that compare with transformers and PEFT goldens. */
#ifndef QT_TESTS_MODEL_CHECK_H
#define QT_TESTS_MODEL_CHECK_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "formats/adapter.h"
#include "formats/safetensors.h"
#include "jobs/llama_load.h"
#include "kernels/model/llama.h"
#include "test.h"

/* a: LoRA r 4, alpha 8 on every linear module of m; with r, every A and B drawn uniform in
 * [-0.25, 0.25) in module order, else left as adapter_init makes them (a gradient table). */
static inline void make_lora(struct adapter *a, const struct llama_model *m, struct qt_rng *r)
{
	const char *js = "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":"
	                 "[\"q_proj\",\"k_proj\",\"v_proj\",\"o_proj\",\"gate_proj\",\"up_proj\","
	                 "\"down_proj\"]}";
	struct adapter_config cfg;
	struct qt_err err;
	struct adapter_dims dims = llama_adapter_dims(&m->cfg);
	CHECK(adapter_config_parse(&cfg, js, strlen(js), "test", &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(a, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	adapter_config_free(&cfg);
	if (!r)
		return;
	for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *l = &a->lora[i];
		for (int k = 0; k < l->r * l->in; k++)
			l->A[k] = (float)(qt_rng_double(r) - 0.5) * 0.5f;
		for (int k = 0; k < l->out * l->r; k++)
			l->B[k] = (float)(qt_rng_double(r) - 0.5) * 0.5f;
	}
}

/* 1 when every gradient is bit-identical. */
static inline int same_grads(const struct adapter *x, const struct adapter *y)
{
	for (int i = 0; i < x->dims.n_layers * ADAPTER_N_MODULES; i++) {
		const struct lora_pair *a = &x->lora[i], *b = &y->lora[i];
		if (!a->A != !b->A)
			return 0;
		if (a->A && (memcmp(a->A, b->A, (size_t)a->r * a->in * sizeof(float)) ||
		             memcmp(a->B, b->B, (size_t)a->out * a->r * sizeof(float))))
			return 0;
	}
	return 1;
}

/* max |a - b| / max |b| over n values */
static inline double rel_err(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		num = d > num ? d : num;
		den = fabs(b[i]) > den ? fabs(b[i]) : den;
	}
	return den > 0 ? num / den : num;
}

/* The first index of the largest of n values (torch.argmax without NaNs). */
static inline int argmax(const float *x, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[b])
			b = i;
	return b;
}

/* prompt_embeddings of dir/adapter_model.safetensors, (P, n) floats; NULL (and a failed check)
 * when missing. */
static inline float *load_prefix_table(const char *dir, int *P, size_t *n)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
	struct st_file f;
	struct qt_err err = { 0 };
	if (st_open(&f, path, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return NULL;
	}
	const struct st_tensor *t = st_find(&f, "prompt_embeddings");
	float *w = NULL;
	if (t && t->n_dims == 2) {
		*P = (int)t->shape[0];
		*n = (size_t)t->shape[1];
		w = malloc(t->n_elem * sizeof *w);
		if (st_tensor_to_f32(t, w, &err) != QT_OK) {
			free(w);
			w = NULL;
		}
	}
	CHECK(w != NULL, "%s: prompt_embeddings", path);
	st_close(&f);
	return w;
}

/* f = m (shallow) with every NF4 linear dequantized to f32 up front (frozen_dequant), the whole
 * model's weights in one buffer, each layer's module after module as jobs/llama_load.c lays
 * out an NF4 layer's q, k, v and gate, up: both then take the same fused GEMMs
 * (kernels/model/llama_train.c), so an NF4 base and its dequantized copy agree bit for bit.
 * *nq: the NF4 linears. Returns the buffer; the caller frees it and f->layers. */
static inline float *dequant_layers(struct llama_model *f, const struct llama_model *m, int *nq)
{
	size_t n = 0;
	for (int l = 0; l < m->cfg.n_layer; l++)
		for (int k = 0; k < LLAMA_N_MODULES; k++)
			n += (size_t)m->layers[l].lin[k].OC * m->layers[l].lin[k].C;
	struct llama_layer *layers = malloc((size_t)m->cfg.n_layer * sizeof *layers);
	float *buf = malloc((n ? n : 1) * sizeof *buf), *w = buf;
	*f = *m;
	f->layers = layers;
	*nq = 0;
	for (int l = 0; l < m->cfg.n_layer; l++) {
		layers[l] = m->layers[l];
		for (int k = 0; k < LLAMA_N_MODULES; k++) {
			struct frozen_linear *lin = &layers[l].lin[k];
			if (lin->w || !lin->nf4)
				continue;
			frozen_dequant(lin, w, 1);
			(*nq)++;
			lin->w = w;
			lin->nf4 = NULL;
			w += (size_t)lin->OC * lin->C;
		}
	}
	return buf;
}

#endif
