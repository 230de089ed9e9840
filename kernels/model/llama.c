/* qlora-tools: ISC license. */
/*
 * The Llama forward pass and cached decoding composed from the ops of the model's backend; see
 * llama.h. Activations are allocated per call in the backend's memory (their cost is small
 * next to the matmuls); no arithmetic happens here.
 */
#include "kernels/model/llama.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/rope.h"

void llama_free(struct llama_model *m)
{
	if (m->release)
		m->release(m);
	memset(m, 0, sizeof *m);
}

int llama_cache_init(struct llama_cache *c, const struct llama_model *m, int B, int L,
                     struct qt_err *err)
{
	const struct llama_config *cfg = &m->cfg;
	const struct qt_backend *be = llama_be(m);
	memset(c, 0, sizeof *c);
	c->be = be;
	c->n_layer = cfg->n_layer;
	c->B = B;
	c->L = L;
	c->NKV = cfg->NKV;
	c->HD = cfg->HD;
	size_t n = (size_t)cfg->n_layer * B * L * cfg->NKV * cfg->HD * sizeof(float);
	c->k = be->alloc(n);
	c->v = be->alloc(n);
	c->past = calloc((size_t)B, sizeof(int32_t));
	c->past_dev = be->host ? c->past : be->alloc((size_t)B * sizeof(int32_t));
	if (!c->k || !c->v || !c->past || !c->past_dev) {
		llama_cache_free(c);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory for a KV cache of %d x %d tokens",
		                  B, L);
	}
	return QT_OK;
}

int llama_cache_prefix(struct llama_cache *c, const struct lora_table *lora, struct qt_err *err)
{
	int P = lora_prefix_len(lora);
	if (P == 0)
		return QT_OK;
	if (P >= c->L)
		return qt_err_set(err, QT_EDATA, "a prefix of %d slots does not fit a cache of %d", P,
		                  c->L);
	size_t kvd = (size_t)c->NKV * c->HD, ps = (size_t)c->n_layer * 2 * kvd;
	for (int l = 0; l < c->n_layer; l++)
		for (int b = 0; b < c->B; b++)
			for (int p = 0; p < P; p++) {
				size_t dst = (((size_t)l * c->B + b) * c->L + p) * kvd;
				const float *src = lora->prefix + (size_t)p * ps + (size_t)2 * l * kvd;
				c->be->copy(c->k + dst, src, kvd * sizeof(float));
				c->be->copy(c->v + dst, src + kvd, kvd * sizeof(float));
			}
	for (int b = 0; b < c->B; b++)
		c->past[b] = P;
	c->pos_base = lora->prefix_pos0 ? P : 0;
	return QT_OK;
}

int llama_cache_put_row(struct llama_cache *dst, int b, const struct llama_cache *src,
                        struct qt_err *err)
{
	size_t row = (size_t)dst->NKV * dst->HD;
	int S = src->past[0];
	if (b < 0 || b >= dst->B || S > dst->L || src->n_layer != dst->n_layer ||
	    (size_t)src->NKV * src->HD != row)
		return qt_err_set(err, QT_EDATA, "a cache row of %d tokens does not fit row %d of a "
		                  "cache of %d x %d", S, b, dst->B, dst->L);
	for (int l = 0; l < dst->n_layer; l++) {
		size_t to = ((size_t)l * dst->B + b) * dst->L * row, from = (size_t)l * src->B * src->L * row;
		dst->be->copy(dst->k + to, src->k + from, (size_t)S * row * sizeof(float));
		dst->be->copy(dst->v + to, src->v + from, (size_t)S * row * sizeof(float));
	}
	dst->past[b] = S;
	dst->pos_base = src->pos_base;
	return QT_OK;
}

void llama_cache_free(struct llama_cache *c)
{
	if (c->be) {
		c->be->free(c->k);
		c->be->free(c->v);
		if (c->past_dev != c->past)
			c->be->free(c->past_dev);
	}
	free(c->past);
	memset(c, 0, sizeof *c);
}

/* ---- shared pieces of the two forward paths ---- */

struct acts {
	const struct qt_backend *be;
	float *x, *xn, *q, *k, *v, *att, *gate, *up, *cos_t, *sin_t, *mid;
	float *br; /* (n, C) a branch's output before its sandwich norm (Gemma-2) */
	float *fz; /* (n, max(q + 2 kv, 2 H)) a fused projection's output (Phi-3), else empty */
	float *lse; /* (NH, n) log-sum-exp of attention rows, to merge a prefix into */
	float *logits; /* (rows, V) when the backend's memory is not the host's */
	int32_t *ids;         /* (n) */
	void *scratch; /* the frozen linears' */
	void *block;
	float *cos_h, *sin_h; /* (n, HD/2) host RoPE tables */
	int32_t *pos_h;       /* (n) host */
};

static const struct lora_pair *lora_of(const struct lora_table *a, int l, int m)
{
	if (!a || l >= a->n_layers || !a->pairs)
		return NULL;
	const struct lora_pair *lo = lora_table_at(a, l, m);
	return lo->A ? lo : NULL;
}

static int max_rank(const struct lora_table *a)
{
	int r = 0;
	if (a)
		for (int i = 0; i < a->n_layers * LORA_N_MODULES; i++)
			if (a->pairs[i].A && a->pairs[i].r > r)
				r = a->pairs[i].r;
	return r;
}

static void acts_free(struct acts *a)
{
	if (a->be)
		a->be->free(a->block);
	free(a->cos_h);
}

/* rows: the rows logits are made for (staged in the backend when it is not the host). */
static int acts_alloc(struct acts *a, const struct llama_model *m, int n, int R, int rows,
                      struct qt_err *err)
{
	const struct llama_config *c = &m->cfg;
	const struct qt_backend *be = llama_be(m);
	size_t sc = 0;
	memset(a, 0, sizeof *a);
	a->be = be;
	for (int l = 0; l < c->n_layer; l++)
		for (int k = 0; k < LLAMA_N_MODULES; k++) {
			size_t s = be->frozen_scratch(&m->layers[l].lin[k], n);
			sc = s > sc ? s : sc;
		}
	size_t hs = be->frozen_scratch(&m->lm_head, rows);
	sc = hs > sc ? hs : sc;
	size_t qd = (size_t)c->NH * c->HD, kd = (size_t)c->NKV * c->HD;
	size_t fz = !c->fused ? 0 : qd + 2 * kd > 2 * (size_t)c->H ? qd + 2 * kd : 2 * (size_t)c->H;
	size_t sizes[] = { (size_t)n * c->C, (size_t)n * c->C, n * qd, n * kd, n * kd, n * qd,
	                   (size_t)n * c->H, (size_t)n * c->H, (size_t)n * c->HD / 2,
	                   (size_t)n * c->HD / 2, (size_t)n * (R > 0 ? R : 0), (size_t)n * c->C,
	                   n * fz, (size_t)c->NH * n, be->host ? 0 : (size_t)rows * c->V };
	float **dst[] = { &a->x, &a->xn, &a->q, &a->k, &a->v, &a->att, &a->gate, &a->up,
	                  &a->cos_t, &a->sin_t, &a->mid, &a->br, &a->fz, &a->lse, &a->logits };
	size_t total = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		total += (sizes[i] + 63) / 64 * 64; /* 256-byte aligned pieces (cuBLAS) */
	sc = (sc + 255) / 256 * 256;
	a->block = be->alloc(total * sizeof(float) + sc + (size_t)n * sizeof(int32_t));
	a->cos_h = malloc(((size_t)n * c->HD + (size_t)n) * sizeof(float));
	if (!a->block || !a->cos_h) {
		acts_free(a);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory for activations of %d tokens", n);
	}
	float *p = a->block;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		*dst[i] = p;
		p += (sizes[i] + 63) / 64 * 64;
	}
	a->scratch = p;
	a->ids = (int32_t *)((char *)a->scratch + sc);
	a->sin_h = a->cos_h + (size_t)n * c->HD / 2;
	a->pos_h = (int32_t *)(a->sin_h + (size_t)n * c->HD / 2);
	return QT_OK;
}

/* The ids and the RoPE tables of n tokens (positions in pos_h) into the backend. */
static int acts_inputs(struct acts *a, const struct llama_model *m, const int32_t *ids, int n)
{
	const struct qt_backend *be = a->be;
	size_t half = (size_t)llama_rot(&m->cfg) / 2;
	rope_table(a->cos_h, a->sin_h, a->pos_h, m->inv_freq, n, llama_rot(&m->cfg));
	return be->upload(a->ids, ids, (size_t)n * sizeof(int32_t)) |
	       be->upload(a->cos_t, a->cos_h, (size_t)n * half * sizeof(float)) |
	       be->upload(a->sin_t, a->sin_h, (size_t)n * half * sizeof(float));
}

static int backend_fail(const struct qt_backend *be, const char *what, struct qt_err *err)
{
	const char *e = be->error();
	qt_err_set(err, QT_ESOFTWARE, "%s: %s: %s", be->name, what, e ? e : "failed");
	be->error_clear();
	return QT_ESOFTWARE;
}

/* out = beta * out + x W^T + bias + scale * (x A^T) B^T (the LoRA branch when lo has A). */
static void lin(float *out, const float *x, const struct frozen_linear *w,
                const struct lora_pair *lo, int n, float beta, struct acts *a, int n_threads)
{
	const struct qt_backend *be = a->be;
	be->frozen_infer(out, x, w, n, beta, a->scratch, n_threads);
	if (lo && lo->A && lo->r > 0) {
		be->linear_forward(a->mid, x, lo->A, NULL, n, w->C, lo->r, 1.0f, 0.0f);
		be->linear_forward(out, a->mid, lo->B, NULL, n, lo->r, w->OC, lo->scaling, 1.0f);
	}
}

static void embed_rows(const struct llama_model *m, struct acts *a, int n)
{
	if (m->embed)
		a->be->embedding_forward(a->x, a->ids, m->embed, n, m->cfg.C, m->cfg.V);
	else
		a->be->embedding_forward_bf16(a->x, a->ids, m->embed_b, n, m->cfg.C, m->cfg.V);
	if (m->cfg.embed_scale)
		a->be->embedding_scale(a->x, (size_t)n * m->cfg.C, m->cfg.embed_scale);
}

/* Attention-independent first half of a layer: xn = norm(x); q, k, v projections (q and k
 * normalized per head where the family does) with RoPE. */
static void layer_qkv(const struct llama_model *m, const struct lora_table *lora, int l,
                      struct acts *a, int n)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L = &m->layers[l];
	const struct qt_backend *be = a->be;
	int th = m->n_threads;
	be->rmsnorm_forward(a->xn, NULL, a->x, L->attn_norm, n, c->C, c->eps, th);
	if (c->fused & LORA_FUSED_QKV) {
		lin(a->fz, a->xn, &L->lin[LLAMA_Q], lora_of(lora, l, LLAMA_Q), n, 0.0f, a, th);
		int w[3] = { c->NH * c->HD, c->NKV * c->HD, c->NKV * c->HD };
		be->columns_split((float *const[]){ a->q, a->k, a->v }, a->fz, n, w, 3);
	} else {
		lin(a->q, a->xn, &L->lin[LLAMA_Q], lora_of(lora, l, LLAMA_Q), n, 0.0f, a, th);
		lin(a->k, a->xn, &L->lin[LLAMA_K], lora_of(lora, l, LLAMA_K), n, 0.0f, a, th);
		lin(a->v, a->xn, &L->lin[LLAMA_V], lora_of(lora, l, LLAMA_V), n, 0.0f, a, th);
	}
	if (L->q_norm) {
		be->rmsnorm_forward(a->q, NULL, a->q, L->q_norm, n * c->NH, c->HD, c->eps, th);
		be->rmsnorm_forward(a->k, NULL, a->k, L->k_norm, n * c->NKV, c->HD, c->eps, th);
	}
	be->rope_forward_part(a->q, a->q, a->cos_t, a->sin_t, n, c->NH, c->HD, llama_rot(c),
	                      c->rope_interleaved);
	be->rope_forward_part(a->k, a->k, a->cos_t, a->sin_t, n, c->NKV, c->HD, llama_rot(c),
	                      c->rope_interleaved);
}

/* A branch's output added to the residual stream x: directly, or after its sandwich norm. */
static void branch_add(const struct llama_model *m, const struct lora_table *lora, int l, int k,
                       const float *norm, struct acts *a, const float *u, int n)
{
	const struct llama_layer *L = &m->layers[l];
	const struct llama_config *c = &m->cfg;
	if (!norm) {
		lin(a->x, u, &L->lin[k], lora_of(lora, l, k), n, 1.0f, a, m->n_threads);
		return;
	}
	lin(a->br, u, &L->lin[k], lora_of(lora, l, k), n, 0.0f, a, m->n_threads);
	a->be->rmsnorm_forward(a->br, NULL, a->br, norm, n, c->C, c->eps, m->n_threads);
	a->be->residual_add(a->x, a->br, (size_t)n * c->C);
}

/* Second half: x += [norm] o(att); x += [norm] down(act(gate(norm x), up(norm x))). */
static void layer_out_mlp(const struct llama_model *m, const struct lora_table *lora, int l,
                          struct acts *a, int n)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L = &m->layers[l];
	const struct qt_backend *be = a->be;
	int th = m->n_threads;
	branch_add(m, lora, l, LLAMA_O, L->post_attn_norm, a, a->att, n);
	be->rmsnorm_forward(a->xn, NULL, a->x, L->mlp_norm, n, c->C, c->eps, th);
	if (c->fused & LORA_FUSED_GATE_UP) {
		lin(a->fz, a->xn, &L->lin[LLAMA_GATE], lora_of(lora, l, LLAMA_GATE), n, 0.0f, a, th);
		be->columns_split((float *const[]){ a->gate, a->up }, a->fz, n, (int[]){ c->H, c->H },
		                  2);
	} else {
		lin(a->gate, a->xn, &L->lin[LLAMA_GATE], lora_of(lora, l, LLAMA_GATE), n, 0.0f, a, th);
		lin(a->up, a->xn, &L->lin[LLAMA_UP], lora_of(lora, l, LLAMA_UP), n, 0.0f, a, th);
	}
	if (c->act == LLAMA_ACT_GELU_TANH)
		be->geglu_forward(a->gate, a->gate, a->up, (size_t)n * c->H);
	else
		be->swiglu_forward(a->gate, a->gate, a->up, (size_t)n * c->H);
	branch_add(m, lora, l, LLAMA_DOWN, L->post_mlp_norm, a, a->gate, n);
}

/* logits (rows, V, host) = [cap] head(final_norm(xn)), xn holding the rows. */
static int head(const struct llama_model *m, struct acts *a, int rows, float *logits,
                struct qt_err *err)
{
	const struct llama_config *cf = &m->cfg;
	const struct qt_backend *be = a->be;
	float *out = be->host ? logits : a->logits;
	be->rmsnorm_forward(a->xn, NULL, a->xn, m->final_norm, rows, cf->C, cf->eps, m->n_threads);
	be->frozen_infer(out, a->xn, &m->lm_head, rows, 0.0f, a->scratch, m->n_threads);
	if (cf->final_softcap > 0)
		be->softcap_forward(out, out, (size_t)rows * cf->V, cf->final_softcap);
	if ((!be->host && be->download(logits, out, (size_t)rows * cf->V * sizeof(float)) != 0) ||
	    be->sync() != 0)
		return backend_fail(be, "forward", err);
	return QT_OK;
}

/* ---- generation with a KV cache ---- */

int llama_decode(const struct llama_model *m, const struct lora_table *lora, struct llama_cache *c,
                 const int32_t *ids, int B, int TN, float *logits, struct qt_err *err)
{
	const struct llama_config *cf = &m->cfg;
	const struct qt_backend *be = llama_be(m);
	int n = B * TN, st;
	for (int b = 0; b < B; b++)
		if (c->past[b] + TN > c->L)
			return qt_err_set(err, QT_EDATA, "context of %d tokens exceeds the cache (%d)",
			                  c->past[b] + TN, c->L);
	struct acts a;
	if (acts_alloc(&a, m, n, max_rank(lora), B, err) != QT_OK)
		return QT_ESOFTWARE;
	for (int b = 0; b < B; b++)
		for (int i = 0; i < TN; i++)
			a.pos_h[b * TN + i] = c->past[b] + i - c->pos_base;
	if (acts_inputs(&a, m, ids, n) != 0 ||
	    (c->past_dev != c->past &&
	     be->upload(c->past_dev, c->past, (size_t)B * sizeof(int32_t)) != 0)) {
		acts_free(&a);
		return backend_fail(be, "uploading the tokens", err);
	}
	embed_rows(m, &a, n);
	size_t row = (size_t)cf->NKV * cf->HD;
	for (int l = 0; l < cf->n_layer; l++) {
		layer_qkv(m, lora, l, &a, n);
		float *kc = c->k + (size_t)l * B * c->L * row, *vc = c->v + (size_t)l * B * c->L * row;
		for (int b = 0; b < B; b++) {
			size_t dst = ((size_t)b * c->L + (size_t)c->past[b]) * row;
			be->copy(kc + dst, a.k + (size_t)b * TN * row, (size_t)TN * row * sizeof(float));
			be->copy(vc + dst, a.v + (size_t)b * TN * row, (size_t)TN * row * sizeof(float));
		}
		struct attn_opts ao = llama_attn(cf, l);
		be->attention_decode(a.att, a.q, kc, vc, c->past_dev, &ao, B, TN, c->L, cf->NH, cf->NKV,
		                     cf->HD, m->n_threads);
		layer_out_mlp(m, lora, l, &a, n);
	}
	/* Only each row's last token needs logits. */
	for (int b = 0; b < B; b++)
		be->copy(a.xn + (size_t)b * cf->C, a.x + ((size_t)b * TN + TN - 1) * cf->C,
		         (size_t)cf->C * sizeof(float));
	st = head(m, &a, B, logits, err);
	if (st == QT_OK)
		for (int b = 0; b < B; b++)
			c->past[b] += TN;
	acts_free(&a);
	return st;
}

/* ---- one packed sequence, no cache ---- */

int llama_forward(const struct llama_model *m, const struct lora_table *lora, const int32_t *ids,
                  const int32_t *pos, const int32_t *seg, int T, float *logits,
                  struct qt_err *err)
{
	const struct llama_config *cf = &m->cfg;
	const struct qt_backend *be = llama_be(m);
	struct acts a;
	if (acts_alloc(&a, m, T, max_rank(lora), T, err) != QT_OK)
		return QT_ESOFTWARE;
	/* prefix tuning: positions after the prefix, unless they start at 0 */
	int P = lora_prefix_len(lora), shift = P && !lora->prefix_pos0 ? P : 0;
	for (int t = 0; t < T; t++)
		a.pos_h[t] = pos[t] + shift;
	int32_t *dseg = NULL, *dpos = NULL;
	if (acts_inputs(&a, m, ids, T) != 0 ||
	    (seg && !be->host && !(dseg = qt_backend_dup(be, seg, (size_t)T * sizeof(int32_t)))) ||
	    (P && !be->host && !(dpos = qt_backend_dup(be, pos, (size_t)T * sizeof(int32_t))))) {
		acts_free(&a);
		return backend_fail(be, "uploading the tokens", err);
	}
	const int32_t *s = be->host ? seg : dseg, *ps_pos = be->host ? pos : dpos;
	embed_rows(m, &a, T);
	size_t kvd = (size_t)cf->NKV * cf->HD, ps = (size_t)cf->n_layer * 2 * kvd;
	for (int l = 0; l < cf->n_layer; l++) {
		layer_qkv(m, lora, l, &a, T);
		struct attn_opts ao = llama_attn(cf, l);
		be->attention_forward(a.att, P ? a.lse : NULL, a.q, a.k, a.v, s, &ao, 1, T, cf->NH,
		                      cf->NKV, cf->HD, m->n_threads);
		if (P)
			be->attention_prefix_forward(a.att, a.lse, a.q, lora->prefix + 2 * l * kvd,
			                             lora->prefix + (2 * l + 1) * kvd, ps, ps_pos, &ao, T,
			                             cf->NH, cf->NKV, cf->HD, P);
		layer_out_mlp(m, lora, l, &a, T);
	}
	be->copy(a.xn, a.x, (size_t)T * cf->C * sizeof(float));
	int st = head(m, &a, T, logits, err);
	if (dseg)
		be->free(dseg);
	if (dpos)
		be->free(dpos);
	acts_free(&a);
	return st;
}
