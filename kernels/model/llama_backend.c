/* qlora-tools: ISC license. */
/*
 * The model on a backend other than the host's: what the backend must have for a model, and
 * copies of a loaded model and of LoRA tables (pairs, a prefix table and its projection MLP)
 * into its memory (llama.h).
 */
#include "kernels/model/llama.h"

#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "kernels/nf4.h"

const char *llama_backend_missing(const struct llama_model *m, const struct lora_table *lora,
                                  const struct qt_backend *be)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L0 = c->n_layer > 0 ? &m->layers[0] : NULL;
	if (!m->lm_head.w && !m->lm_head.wb && !(be->caps & QT_CAP_NF4_LM_HEAD))
		return "an NF4 lm_head";
	/* a bf16 vocabulary: computed on by the host, copied to f32 for a device */
	if (be->host && ((!m->embed && !be->embedding_forward_bf16) ||
	                 (!m->lm_head.w && m->lm_head.wb &&
	                  (!be->lm_head_ce_bf16 || !be->lm_head_correct_bf16))))
		return "a bf16 embedding or LM head";
	if (be->attn_max_hd && c->HD > be->attn_max_hd)
		return "attention with a head_dim above its attn_max_hd";
	if (c->fused && (!be->columns_split || !be->columns_join))
		return "fused qkv_proj or gate_up_proj (Phi-3, GLM)";
	if ((c->rope_interleaved || llama_rot(c) != c->HD) && !(be->caps & QT_CAP_ROPE_PARTIAL))
		return "partial or interleaved rotary embeddings (GLM, Phi-3)";
	if ((c->attn_scale || c->attn_softcap || c->final_softcap) &&
	    !(be->caps & QT_CAP_ATTN_SCALE_CAP))
		return "Gemma-2's attention scale and soft caps";
	if (c->final_softcap && !be->softcap_forward)
		return "Gemma-2's final logit soft cap";
	if (L0 && L0->post_attn_norm && !be->residual_add)
		return "Gemma-2's sandwich norms";
	if (c->act == LLAMA_ACT_GELU_TANH && (!be->geglu_forward || !be->geglu_backward))
		return "Gemma's GeGLU MLP";
	if (c->embed_scale && !be->embedding_scale)
		return "Gemma's embedding scale";
	if (lora_prefix_len(lora) && (!be->attention_prefix_forward || !be->attention_prefix_backward))
		return "prefix tuning";
	if (lora_prefix_len(lora) && lora->mlp.emb && (!be->softcap_forward || !be->softcap_backward))
		return "the prefix projection's tanh";
	return NULL;
}

int llama_backend_check(const struct llama_model *m, const struct lora_table *lora,
                        const struct qt_backend *be, struct qt_err *err)
{
	const char *missing = llama_backend_missing(m, lora, be);
	if (!missing)
		return QT_OK;
	return qt_err_set(err, QT_EUSAGE, "%s: the %s backend has no op for %s; use --device cpu",
	                  be->name, be->name, missing);
}

/* Allocations of an uploaded model, released together. */
struct owned {
	const struct qt_backend *be;
	size_t n, cap;
	void **p;
	struct llama_layer *layers;
};

static void release_owned(struct llama_model *m)
{
	struct owned *o = m->owned;
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++)
		o->be->free(o->p[i]);
	free(o->p);
	free(o->layers);
	free(o);
}

/* A copy of n host bytes at src in the backend, kept in o; NULL src gives NULL. *ok cleared on
 * failure. */
static void *dup_into(struct owned *o, const void *src, size_t n, int *ok)
{
	if (!src || !*ok)
		return NULL;
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64;
		void **p = realloc(o->p, cap * sizeof *p);
		if (!p) {
			*ok = 0;
			return NULL;
		}
		o->p = p;
		o->cap = cap;
	}
	void *d = qt_backend_dup(o->be, src, n);
	if (!d) {
		*ok = 0;
		return NULL;
	}
	return o->p[o->n++] = d;
}

/* n bf16 values (NULL: none) as f32 in be's memory: a bf16 vocabulary (llama_model.embed_b,
 * lm_head.wb without w) for a backend that computes in f32 only. */
static float *dup_bf16(struct owned *o, const uint16_t *b, size_t n, int *ok)
{
	if (!b || !*ok)
		return NULL;
	float *f = malloc(n * sizeof *f);
	if (!f) {
		*ok = 0;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		f[i] = qt_bf16_to_f32(b[i]);
	float *d = dup_into(o, f, n * sizeof *f, ok);
	free(f);
	return d;
}

static void upload_linear(struct owned *o, struct frozen_linear *d, const struct frozen_linear *s,
                          int *ok)
{
	size_t n = (size_t)s->OC * s->C;
	*d = *s;
	d->wb = NULL; /* the CPU's decoding copy */
	d->w = s->w || s->nf4 ? dup_into(o, s->w, n * sizeof(float), ok) : dup_bf16(o, s->wb, n, ok);
	d->bias = dup_into(o, s->bias, (size_t)s->OC * sizeof(float), ok);
	if (!s->w && s->nf4) { /* neither: a module the family lacks (Phi-3's fused k, v, up) */
		d->nf4 = dup_into(o, s->nf4, nf4_packed_bytes(n), ok);
		d->absmax = dup_into(o, s->absmax, nf4_n_blocks(n, s->blocksize) * sizeof(float), ok);
		d->code = dup_into(o, s->code, 16 * sizeof(float), ok);
	}
}

int llama_model_upload(struct llama_model *dst, const struct llama_model *src,
                       const struct qt_backend *be, struct qt_err *err)
{
	const struct llama_config *c = &src->cfg;
	int st = llama_backend_check(src, NULL, be, err);
	memset(dst, 0, sizeof *dst);
	if (st != QT_OK)
		return st;
	struct owned *o = calloc(1, sizeof *o);
	if (!o || !(o->layers = calloc((size_t)c->n_layer + 1, sizeof *o->layers))) {
		free(o);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	o->be = be;
	*dst = *src;
	dst->be = be;
	dst->owned = o;
	dst->release = release_owned;
	dst->layers = o->layers;
	int ok = 1;
	size_t C = (size_t)c->C * sizeof(float), HD = (size_t)c->HD * sizeof(float);
	dst->embed = src->embed ? dup_into(o, src->embed, (size_t)c->V * C, &ok) :
	             dup_bf16(o, src->embed_b, (size_t)c->V * c->C, &ok);
	dst->embed_b = NULL;
	dst->final_norm = dup_into(o, src->final_norm, C, &ok);
	if (src->embed ? src->lm_head.w == src->embed : src->lm_head.wb == src->embed_b) { /* tied */
		dst->lm_head = src->lm_head;
		dst->lm_head.w = dst->embed;
		dst->lm_head.wb = NULL;
	} else {
		upload_linear(o, &dst->lm_head, &src->lm_head, &ok);
	}
	for (int l = 0; ok && l < c->n_layer; l++) {
		const struct llama_layer *S = &src->layers[l];
		struct llama_layer *D = &o->layers[l];
		D->attn_norm = dup_into(o, S->attn_norm, C, &ok);
		D->mlp_norm = dup_into(o, S->mlp_norm, C, &ok);
		D->post_attn_norm = dup_into(o, S->post_attn_norm, C, &ok);
		D->post_mlp_norm = dup_into(o, S->post_mlp_norm, C, &ok);
		D->q_norm = dup_into(o, S->q_norm, HD, &ok);
		D->k_norm = dup_into(o, S->k_norm, HD, &ok);
		for (int k = 0; k < LLAMA_N_MODULES; k++)
			upload_linear(o, &D->lin[k], &S->lin[k], &ok);
	}
	if (!ok) {
		const char *e = be->error();
		qt_err_set(err, QT_ESOFTWARE, "%s: uploading the model: %s", be->name,
		           e ? e : "out of memory");
		be->error_clear();
		llama_free(dst);
		return QT_ESOFTWARE;
	}
	return QT_OK;
}

int lora_table_tensors(const struct lora_table *t, float **p, size_t *n, int max)
{
	int k = 0;
	for (int i = 0; t->pairs && i < t->n_layers * LORA_N_MODULES; i++) {
		const struct lora_pair *q = &t->pairs[i];
		if (!q->A)
			continue;
		if (k + 1 < max) {
			p[k] = q->A, n[k] = (size_t)q->r * q->in;
			p[k + 1] = q->B, n[k + 1] = (size_t)q->out * q->r;
		}
		k += 2;
	}
	const struct prefix_mlp *m = &t->mlp;
	if (t->prefix && m->emb) { /* formats/adapter.h's order: embedding, transform.0, .2 */
		float *mp[5] = { m->emb, m->w1, m->b1, m->w2, m->b2 };
		size_t mn[5] = { (size_t)m->P * m->D, (size_t)m->H * m->D, (size_t)m->H,
		                 (size_t)m->W * m->H, (size_t)m->W };
		for (int i = 0; i < 5; i++, k++)
			if (k < max)
				p[k] = mp[i], n[k] = mn[i];
	} else if (t->prefix) {
		if (k < max)
			p[k] = t->prefix, n[k] = (size_t)t->prefix_len * t->prefix_width;
		k++;
	}
	return k;
}

void lora_table_release(struct lora_table *t, const struct qt_backend *be)
{
	for (int i = 0; t->pairs && i < t->n_layers * LORA_N_MODULES; i++) {
		be->free(t->pairs[i].A);
		be->free(t->pairs[i].B);
	}
	free(t->pairs);
	be->free(t->prefix);
	be->free(t->mlp.emb);
	memset(t, 0, sizeof *t);
}

/* A copy of n floats at src in be (zeroed instead when zero), or NULL. */
static float *copy_or_zero(const struct qt_backend *be, const float *src, size_t n, int zero)
{
	if (!zero)
		return qt_backend_dup(be, src, n * sizeof(float));
	float *d = be->alloc(n * sizeof(float));
	if (d)
		be->zero(d, n * sizeof(float));
	return d;
}

/* dst->mlp as src's, its arrays pointing into the one allocation at base. */
static void mlp_point(struct prefix_mlp *dst, const struct prefix_mlp *src, float *base)
{
	*dst = *src;
	dst->emb = base;
	dst->w1 = base + (size_t)src->P * src->D;
	dst->b1 = dst->w1 + (size_t)src->H * src->D;
	dst->w2 = dst->b1 + src->H;
	dst->b2 = dst->w2 + (size_t)src->W * src->H;
}

int lora_table_upload(struct lora_table *dst, const struct lora_table *src,
                      const struct qt_backend *be, int zero, struct qt_err *err)
{
	memset(dst, 0, sizeof *dst);
	int P = lora_prefix_len(src);
	if (P && !src->prefix_width)
		return qt_err_set(err, QT_ESOFTWARE, "a prefix table without its width");
	int n = src->pairs ? src->n_layers * LORA_N_MODULES : 0;
	if (!(dst->pairs = calloc((size_t)n + 1, sizeof *dst->pairs)))
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	dst->n_layers = src->pairs ? src->n_layers : 0;
	int ok = 1;
	for (int i = 0; ok && i < n; i++) {
		const struct lora_pair *s = &src->pairs[i];
		struct lora_pair *d = &dst->pairs[i];
		*d = *s;
		d->A = d->B = NULL;
		if (!s->A)
			continue;
		d->A = copy_or_zero(be, s->A, (size_t)s->r * s->in, zero);
		d->B = copy_or_zero(be, s->B, (size_t)s->out * s->r, zero);
		ok = d->A && d->B;
	}
	if (ok && P) {
		dst->prefix_len = P;
		dst->prefix_pos0 = src->prefix_pos0;
		dst->prefix_width = src->prefix_width;
		ok = (dst->prefix = copy_or_zero(be, src->prefix, (size_t)P * src->prefix_width,
		                                 zero)) != NULL;
		float *mb = NULL;
		if (ok && src->mlp.emb) {
			ok = (mb = copy_or_zero(be, src->mlp.emb, prefix_mlp_floats(&src->mlp), zero)) != NULL;
			if (ok)
				mlp_point(&dst->mlp, &src->mlp, mb);
		}
	}
	if (!ok) {
		const char *e = be->error();
		qt_err_set(err, QT_ESOFTWARE, "%s: uploading the adapter: %s", be->name,
		           e ? e : "out of memory");
		be->error_clear();
		lora_table_release(dst, be);
		return QT_ESOFTWARE;
	}
	return QT_OK;
}

int lora_table_download(struct lora_table *dst, const struct lora_table *src,
                        const struct qt_backend *be)
{
	int rc = 0;
	for (int i = 0; rc == 0 && src->pairs && i < src->n_layers * LORA_N_MODULES; i++) {
		const struct lora_pair *s = &src->pairs[i];
		struct lora_pair *d = &dst->pairs[i];
		if (!s->A)
			continue;
		rc = be->download(d->A, s->A, (size_t)s->r * s->in * sizeof(float)) |
		     be->download(d->B, s->B, (size_t)s->out * s->r * sizeof(float));
	}
	if (rc == 0 && src->prefix && dst->prefix)
		rc = be->download(dst->prefix, src->prefix,
		                  (size_t)src->prefix_len * src->prefix_width * sizeof(float));
	if (rc == 0 && src->mlp.emb && dst->mlp.emb)
		rc = be->download(dst->mlp.emb, src->mlp.emb, prefix_mlp_floats(&src->mlp) * sizeof(float));
	return rc ? -1 : be->sync();
}
