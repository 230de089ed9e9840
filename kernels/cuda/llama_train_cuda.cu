/* qlora-tools: ISC license. */
/*
 * LoRA training block on the GPU, mirroring kernels/model/llama_train.c call for call with the
 * kernels/cuda/cuda.h ops (see kernels/cuda/llama_train_cuda.h). Host code only: no kernels
 * of its own, no arithmetic loops. Status: kernels/cuda/README.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/llama_cuda.cuh"

#define _Static_assert static_assert
extern "C" {
#include "common/err.h"
#include "kernels/cross_entropy.h"
#include "kernels/cuda/llama_train_cuda.h"
#include "kernels/dropout.h"
#include "kernels/nf4.h"
#include "kernels/rope.h"
}
#undef _Static_assert

#define LM_CHUNK 64 /* rows of logits held at once, as the CPU path */

/* ---- device allocations owned by one object ---- */

static void *dev_alloc(struct dev_list *l, size_t bytes)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		void **p = (void **)realloc(l->p, cap * sizeof *p);
		if (!p)
			return NULL;
		l->p = p;
		l->cap = cap;
	}
	void *d = cuda_malloc(bytes);
	if (d)
		l->p[l->n++] = d;
	return d;
}

static void *dev_copy(struct dev_list *l, const void *host, size_t bytes)
{
	void *d = dev_alloc(l, bytes);
	return d && cuda_upload(d, host, bytes) == 0 ? d : NULL;
}

static void *dev_zero(struct dev_list *l, size_t bytes)
{
	void *d = dev_alloc(l, bytes);
	return d && cuda_memset(d, 0, bytes) == 0 ? d : NULL;
}

static void dev_free_all(struct dev_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		cuda_free(l->p[i]);
	free(l->p);
	memset(l, 0, sizeof *l);
}

static int fail(struct qt_err *err, const char *what)
{
	const char *e = cuda_error();
	qt_err_set(err, QT_ESOFTWARE, "cuda: %s: %s", what, e ? e : "out of memory");
	cuda_error_clear();
	return QT_ESOFTWARE;
}

static void d2d(void *dst, const void *src, size_t bytes)
{
	CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, qt_cuda_stream()));
}

/* ---- model ---- */

static int upload_linear(struct dlin *d, const struct llama_linear *lin, struct dev_list *mem)
{
	size_t n = (size_t)lin->OC * lin->C;
	d->OC = lin->OC;
	d->C = lin->C;
	if (lin->bias && !(d->bias = (float *)dev_copy(mem, lin->bias, (size_t)lin->OC * 4)))
		return -1;
	if (lin->w)
		return (d->w = (float *)dev_copy(mem, lin->w, n * 4)) ? 0 : -1;
	d->bs = lin->blocksize;
	d->round_to = lin->deq_dtype == QT_DTYPE_BF16 ? 1 : lin->deq_dtype == QT_DTYPE_F16 ? 2 : 0;
	d->nf4 = (uint8_t *)dev_copy(mem, lin->nf4, nf4_packed_bytes(n));
	d->absmax = (float *)dev_copy(mem, lin->absmax, nf4_n_blocks(n, d->bs) * 4);
	d->code = (float *)dev_copy(mem, lin->code, 16 * 4);
	return d->nf4 && d->absmax && d->code ? 0 : -1;
}

extern "C" struct llama_cuda_model *llama_cuda_model_upload(const struct llama_model *m,
                                                            struct qt_err *err)
{
	const struct llama_config *c = &m->cfg;
	struct llama_cuda_model *dm = (struct llama_cuda_model *)calloc(1, sizeof *dm);
	if (!dm) {
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	dm->cfg = *c;
	dm->layers = (struct dlayer *)calloc((size_t)c->n_layer + 1, sizeof *dm->layers);
	dm->inv_freq = (float *)malloc(sizeof(float) * (size_t)(c->HD / 2 + 1));
	dm->window = (int32_t *)calloc((size_t)c->n_layer + 1, sizeof(int32_t));
	int ok = dm->layers && dm->inv_freq && dm->window;
	if (ok) {
		memcpy(dm->inv_freq, m->inv_freq, sizeof(float) * (size_t)(c->HD / 2));
		for (int l = 0; l < c->n_layer; l++)
			dm->window[l] = llama_window(c, l);
		dm->cfg.window = dm->window;
	}
	if (ok && !m->lm_head.w) {
		qt_err_set(err, QT_EUSAGE, "cuda: an NF4 lm_head is not supported");
		llama_cuda_model_free(dm);
		return NULL;
	}
	const char *missing = c->fused ? "fused qkv_proj or gate_up_proj (Phi-3, GLM)"
	                    : c->rope_interleaved || llama_rot(c) != c->HD
	                            ? "partial or interleaved rotary embeddings (GLM, Phi-3)"
	                    : c->n_layer > 0 && m->layers[0].q_norm ? "Qwen3's per-head q_norm/k_norm"
	                    : c->n_layer > 0 && m->layers[0].post_attn_norm ? "Gemma-2's sandwich norms"
	                    : c->attn_scale || c->attn_softcap || c->final_softcap
	                            ? "Gemma-2's attention scale and soft caps"
	                    : c->act != LLAMA_ACT_SILU ? "Gemma's GeGLU MLP"
	                    : c->embed_scale ? "Gemma's embedding scale" : NULL;
	if (ok && missing) {
		qt_err_set(err, QT_EUSAGE, "cuda: %s is not implemented on the CUDA backend yet; use "
		           "--device cpu", missing);
		llama_cuda_model_free(dm);
		return NULL;
	}
	ok = ok && (dm->embed = (float *)dev_copy(&dm->mem, m->embed, (size_t)c->V * c->C * 4));
	ok = ok && (dm->final_norm = (float *)dev_copy(&dm->mem, m->final_norm, (size_t)c->C * 4));
	if (ok)
		dm->lm_head = m->lm_head.w == m->embed
		                      ? dm->embed
		                      : (float *)dev_copy(&dm->mem, m->lm_head.w, (size_t)c->V * c->C * 4);
	ok = ok && dm->lm_head;
	for (int l = 0; ok && l < c->n_layer; l++) {
		const struct llama_layer *L = &m->layers[l];
		struct dlayer *D = &dm->layers[l];
		ok = (D->attn_norm = (float *)dev_copy(&dm->mem, L->attn_norm, (size_t)c->C * 4)) &&
		     (D->mlp_norm = (float *)dev_copy(&dm->mem, L->mlp_norm, (size_t)c->C * 4));
		for (int k = 0; ok && k < LLAMA_N_MODULES; k++)
			ok = upload_linear(&D->lin[k], &L->lin[k], &dm->mem) == 0;
	}
	if (!ok) {
		fail(err, "uploading the model");
		llama_cuda_model_free(dm);
		return NULL;
	}
	return dm;
}

extern "C" void llama_cuda_model_free(struct llama_cuda_model *dm)
{
	if (!dm)
		return;
	dev_free_all(&dm->mem);
	free(dm->layers);
	free(dm->inv_freq);
	free(dm->window);
	free(dm);
}

/* ---- LoRA parameters, gradients, AdamW moments ---- */

extern "C" struct llama_cuda_lora *llama_cuda_lora_upload(const struct lora_table *a,
                                                          struct qt_err *err)
{
	struct llama_cuda_lora *dl = (struct llama_cuda_lora *)calloc(1, sizeof *dl);
	int n = a->n_layers * LORA_N_MODULES;
	if (!dl || !(dl->p = (struct dpair *)calloc((size_t)n + 1, sizeof *dl->p))) {
		free(dl);
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	dl->n_pairs = n;
	int ok = (dl->sumsq = (double *)dev_zero(&dl->mem, sizeof(double))) != NULL;
	for (int i = 0; ok && i < n; i++) {
		const struct lora_pair *lo = &a->pairs[i];
		struct dpair *d = &dl->p[i];
		if (!lo->A)
			continue;
		d->r = lo->r, d->in = lo->in, d->out = lo->out, d->scaling = lo->scaling;
		size_t na = (size_t)lo->r * lo->in * 4, nb = (size_t)lo->out * lo->r * 4;
		ok = (d->A = (float *)dev_copy(&dl->mem, lo->A, na)) &&
		     (d->B = (float *)dev_copy(&dl->mem, lo->B, nb)) &&
		     (d->gA = (float *)dev_zero(&dl->mem, na)) && (d->gB = (float *)dev_zero(&dl->mem, nb)) &&
		     (d->mA = (float *)dev_zero(&dl->mem, na)) && (d->vA = (float *)dev_zero(&dl->mem, na)) &&
		     (d->mB = (float *)dev_zero(&dl->mem, nb)) && (d->vB = (float *)dev_zero(&dl->mem, nb));
	}
	if (!ok) {
		fail(err, "uploading the adapter");
		llama_cuda_lora_free(dl);
		return NULL;
	}
	return dl;
}

extern "C" void llama_cuda_lora_free(struct llama_cuda_lora *dl)
{
	if (!dl)
		return;
	dev_free_all(&dl->mem);
	free(dl->p);
	free(dl);
}

static int sync_one(float *dev, float *host, size_t bytes, int to_device)
{
	if (!host)
		return 0;
	return to_device ? cuda_upload(dev, host, bytes) : cuda_download(host, dev, bytes);
}

extern "C" int llama_cuda_lora_sync(struct llama_cuda_lora *dl, const struct lora_table *p,
                                    const struct lora_table *g, const struct lora_table *m,
                                    const struct lora_table *v, int to_device)
{
	int rc = 0;
	for (int i = 0; i < dl->n_pairs && rc == 0; i++) {
		struct dpair *d = &dl->p[i];
		if (!d->A)
			continue;
		size_t na = (size_t)d->r * d->in * 4, nb = (size_t)d->out * d->r * 4;
		if (p)
			rc |= sync_one(d->A, p->pairs[i].A, na, to_device) |
			      sync_one(d->B, p->pairs[i].B, nb, to_device);
		if (g)
			rc |= sync_one(d->gA, g->pairs[i].A, na, to_device) |
			      sync_one(d->gB, g->pairs[i].B, nb, to_device);
		if (m)
			rc |= sync_one(d->mA, m->pairs[i].A, na, to_device) |
			      sync_one(d->mB, m->pairs[i].B, nb, to_device);
		if (v)
			rc |= sync_one(d->vA, v->pairs[i].A, na, to_device) |
			      sync_one(d->vB, v->pairs[i].B, nb, to_device);
	}
	return rc ? -1 : 0;
}

/* op(d, x, g, m, v, n) for A and for B of every pair with a LoRA */
#define FOR_TENSORS(dl, OP)                                                                  \
	for (int i_ = 0; i_ < (dl)->n_pairs; i_++) {                                         \
		struct dpair *d = &(dl)->p[i_];                                              \
		if (d->A) {                                                                  \
			OP(d->A, d->gA, d->mA, d->vA, (size_t)d->r * d->in);                 \
			OP(d->B, d->gB, d->mB, d->vB, (size_t)d->out * d->r);                \
		}                                                                            \
	}

extern "C" void llama_cuda_lora_zero_grad(struct llama_cuda_lora *dl)
{
#define ZERO(x, g, m, v, n) cuda_memset(g, 0, (n) * sizeof(float))
	FOR_TENSORS(dl, ZERO)
#undef ZERO
}

extern "C" int llama_cuda_lora_grads(struct llama_cuda_lora *dl, float **bufs, size_t *n,
                                     int max)
{
	int k = 0;
#define LIST(x, g, m, v, len) if (k < max) bufs[k] = g, n[k] = len; k++;
	FOR_TENSORS(dl, LIST)
#undef LIST
	return k;
}

extern "C" int llama_cuda_lora_grad_sumsq(struct llama_cuda_lora *dl, double *sumsq)
{
	cuda_memset(dl->sumsq, 0, sizeof(double));
#define SUMSQ(x, g, m, v, n) grad_sumsq_cuda(dl->sumsq, g, n)
	FOR_TENSORS(dl, SUMSQ)
#undef SUMSQ
	return cuda_download(sumsq, dl->sumsq, sizeof(double));
}

extern "C" void llama_cuda_lora_scale_grad(struct llama_cuda_lora *dl, float coef)
{
#define SCALE(x, g, m, v, n) grad_scale_cuda(g, n, coef)
	FOR_TENSORS(dl, SCALE)
#undef SCALE
}

extern "C" void llama_cuda_lora_adamw(struct llama_cuda_lora *dl, const struct adamw_hparams *h)
{
#define STEP(x, g, m, v, n) adamw_step_cuda(x, g, m, v, n, h)
	FOR_TENSORS(dl, STEP)
#undef STEP
}

/* ---- workspace ---- */

struct acts {
	float *xn1, *rstd1, *q, *k, *v, *att, *lse, *xmid, *xn2, *rstd2, *gate, *up, *h;
	float *mid[LLAMA_N_MODULES];
};

struct llama_cuda_ws {
	int    T, R, n_acts;
	float *xin;                    /* (n_layer + 1, T, C) */
	struct acts *acts;             /* host array [n_acts] */
	float *cos_t, *sin_t, *cos_h, *sin_h, *losses_h;
	float *dx, *dxn, *dq, *dk, *dv, *datt, *dgate, *dup, *dh, *dmid, *ubuf;
	float *lm_scratch, *losses, *xf, *rstdf;
	int32_t *ids, *seg, *tg;
	void  *nf4s;                   /* nf4_linear scratch for the largest NF4 weight */
	size_t bytes;
	const struct llama_train_dropout *drop;
	struct dev_list mem;
};

extern "C" struct llama_cuda_ws *llama_cuda_ws_new(const struct llama_cuda_model *dm, int T,
                                                   int R, int checkpointing, struct qt_err *err)
{
	const struct llama_config *c = &dm->cfg;
	size_t C = (size_t)c->C, H = (size_t)c->H, QD = (size_t)c->NH * c->HD,
	       KD = (size_t)c->NKV * c->HD, t = (size_t)T, r = (size_t)(R > 0 ? R : 1);
	size_t umax = C > H ? C : H, nf4max = 0, half = (size_t)c->HD / 2;
	umax = QD > umax ? QD : umax;
	for (int l = 0; l < c->n_layer; l++)
		for (int k = 0; k < LLAMA_N_MODULES; k++) {
			const struct dlin *L = &dm->layers[l].lin[k];
			size_t s = L->w ? 0 : nf4_linear_scratch_cuda(T, L->C, L->OC);
			nf4max = s > nf4max ? s : nf4max;
		}
	struct llama_cuda_ws *ws = (struct llama_cuda_ws *)calloc(1, sizeof *ws);
	int na = checkpointing ? 1 : (c->n_layer > 0 ? c->n_layer : 1);
	if (!ws || !(ws->acts = (struct acts *)calloc((size_t)na, sizeof *ws->acts)) ||
	    !(ws->cos_h = (float *)malloc(sizeof(float) * (2 * t * half + t + 1)))) {
		if (ws)
			free(ws->acts);
		free(ws);
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	ws->sin_h = ws->cos_h + t * half;
	ws->losses_h = ws->sin_h + t * half;
	ws->T = T, ws->R = R, ws->n_acts = na;
	struct fix { float **p; size_t n; } fixed[] = {
		{ &ws->xin, (size_t)(c->n_layer + 1) * t * C },
		{ &ws->cos_t, t * half }, { &ws->sin_t, t * half },
		{ &ws->dx, t * C }, { &ws->dxn, t * C }, { &ws->dq, t * QD }, { &ws->dk, t * KD },
		{ &ws->dv, t * KD }, { &ws->datt, t * QD }, { &ws->dgate, t * H }, { &ws->dup, t * H },
		{ &ws->dh, t * H }, { &ws->dmid, t * r }, { &ws->ubuf, t * umax },
		{ &ws->lm_scratch, lm_head_ce_scratch(LM_CHUNK, c->C, c->V) }, { &ws->losses, t },
		{ &ws->xf, t * C }, { &ws->rstdf, t },
	};
	const size_t NFIX = sizeof fixed / sizeof fixed[0];
	constexpr size_t NACT = 13 + LLAMA_N_MODULES;
	size_t act_n[NACT] = { t * C, t, t * QD, t * KD, t * KD, t * QD, (size_t)c->NH * t, t * C,
	                       t * C, t, t * H, t * H, t * H };
	for (int k = 0; k < LLAMA_N_MODULES; k++)
		act_n[13 + k] = t * r;
	size_t total = 0;
	for (size_t i = 0; i < NFIX; i++)
		total += (fixed[i].n + 63) / 64 * 64; /* 256-byte alignment for cuBLAS */
	for (size_t i = 0; i < NACT; i++)
		total += (act_n[i] + 63) / 64 * 64 * (size_t)na;
	float *p = (float *)dev_alloc(&ws->mem, total * sizeof(float));
	ws->nf4s = nf4max ? dev_alloc(&ws->mem, nf4max) : NULL;
	ws->ids = (int32_t *)dev_alloc(&ws->mem, 3 * t * sizeof(int32_t));
	if (!p || (nf4max && !ws->nf4s) || !ws->ids) {
		fail(err, "allocating the workspace");
		llama_cuda_ws_free(ws);
		return NULL;
	}
	ws->seg = ws->ids + t;
	ws->tg = ws->seg + t;
	ws->bytes = total * sizeof(float) + nf4max + 3 * t * sizeof(int32_t);
	for (size_t i = 0; i < NFIX; i++) {
		*fixed[i].p = p;
		p += (fixed[i].n + 63) / 64 * 64;
	}
	for (int l = 0; l < na; l++) {
		struct acts *a = &ws->acts[l];
		float **ap[NACT] = { &a->xn1, &a->rstd1, &a->q, &a->k, &a->v, &a->att, &a->lse,
		                     &a->xmid, &a->xn2, &a->rstd2, &a->gate, &a->up, &a->h };
		for (int k = 0; k < LLAMA_N_MODULES; k++)
			ap[13 + k] = &a->mid[k];
		for (size_t i = 0; i < NACT; i++) {
			*ap[i] = p;
			p += (act_n[i] + 63) / 64 * 64;
		}
	}
	return ws;
}

extern "C" void llama_cuda_ws_free(struct llama_cuda_ws *ws)
{
	if (!ws)
		return;
	dev_free_all(&ws->mem);
	free(ws->acts);
	free(ws->cos_h);
	free(ws);
}

extern "C" size_t llama_cuda_ws_bytes(const struct llama_cuda_ws *ws) { return ws->bytes; }
/* ---- the block ---- */

static const struct dpair *pair_at(const struct llama_cuda_lora *dl, int l, int k)
{
	if (!dl)
		return NULL;
	const struct dpair *d = &dl->p[(size_t)l * LORA_N_MODULES + k];
	return d->A ? d : NULL;
}

static const struct llama_train_dropout *drop_of(const struct llama_cuda_ws *ws)
{
	return ws->drop && ws->drop->p > 0 ? ws->drop : NULL;
}

static uint64_t drop_seed(const struct llama_train_dropout *d, int l, int k)
{
	return llama_train_dropout_seed(d->seed, d->step, d->block, l, k);
}

/* out = beta*out + u W^T + bias: fp32 SGEMM for f32 weights, bf16 GemmEx for NF4 */
static void base_fwd(float *out, const float *u, const struct dlin *L, int T, float beta,
                     struct llama_cuda_ws *ws)
{
	if (L->w) {
		linear_forward_cuda(out, u, L->w, L->bias, T, L->C, L->OC, 1.0f, beta);
		return;
	}
	nf4_linear_forward_cuda(out, u, L->nf4, L->absmax, L->code, L->bs, T, L->C, L->OC, 1.0f,
	                        beta, ws->nf4s);
	if (L->bias)
		bias_forward_cuda(out, L->bias, T, L->OC);
}

static void base_bwd(float *du, const float *G, const struct dlin *L, int T,
                     struct llama_cuda_ws *ws)
{
	if (L->w)
		linear_backward_x_cuda(du, G, L->w, T, L->C, L->OC, 1.0f);
	else
		nf4_linear_backward_x_cuda(du, G, L->nf4, L->absmax, L->code, L->bs, T, L->C, L->OC,
		                           1.0f, ws->nf4s);
}

/* As lin_fwd in kernels/llama_train.c. */
static void lin_fwd(float *out, const float *u, const struct dlin *L, const struct dpair *lo,
                    float *mid, int T, float beta, struct llama_cuda_ws *ws, int l, int k)
{
	base_fwd(out, u, L, T, beta, ws);
	if (!lo)
		return;
	const struct llama_train_dropout *d = drop_of(ws);
	const float *ua = u;
	if (d) {
		dropout_forward_cuda(ws->ubuf, u, (size_t)T * L->C, d->p, dropout_scale(d->p),
		                     drop_seed(d, l, k));
		ua = ws->ubuf;
	}
	linear_forward_cuda(mid, ua, lo->A, NULL, T, L->C, lo->r, 1.0f, 0.0f);
	linear_forward_cuda(out, mid, lo->B, NULL, T, lo->r, L->OC, lo->scaling, 1.0f);
}

/* As lin_bwd in kernels/llama_train.c. */
static void lin_bwd(float *du, const float *G, const float *u, const struct dlin *L,
                    const struct dpair *lo, int train, const float *mid, int T,
                    struct llama_cuda_ws *ws, int l, int k)
{
	base_bwd(du, G, L, T, ws);
	if (!lo || !train)
		return;
	const struct llama_train_dropout *d = drop_of(ws);
	float *dmid = ws->dmid;
	linear_backward_w_cuda(lo->gB, NULL, G, mid, T, lo->r, L->OC, lo->scaling);
	cuda_memset(dmid, 0, (size_t)T * lo->r * sizeof(float));
	linear_backward_x_cuda(dmid, G, lo->B, T, lo->r, L->OC, lo->scaling);
	if (!d) {
		linear_backward_w_cuda(lo->gA, NULL, dmid, u, T, L->C, lo->r, 1.0f);
		linear_backward_x_cuda(du, dmid, lo->A, T, L->C, lo->r, 1.0f);
		return;
	}
	size_t n = (size_t)T * L->C;
	float sc = dropout_scale(d->p);
	uint64_t seed = drop_seed(d, l, k);
	dropout_forward_cuda(ws->ubuf, u, n, d->p, sc, seed);
	linear_backward_w_cuda(lo->gA, NULL, dmid, ws->ubuf, T, L->C, lo->r, 1.0f);
	cuda_memset(ws->ubuf, 0, n * sizeof(float));
	linear_backward_x_cuda(ws->ubuf, dmid, lo->A, T, L->C, lo->r, 1.0f);
	dropout_backward_cuda(du, ws->ubuf, n, d->p, sc, seed);
}

static void layer_forward(const struct llama_cuda_model *dm, const struct llama_cuda_lora *dl,
                          int l, struct llama_cuda_ws *ws, struct acts *a, const float *xin,
                          float *xout, const int32_t *seg, int T)
{
	const struct llama_config *c = &dm->cfg;
	const struct dlayer *L = &dm->layers[l];
#define FWD(out, u, k, beta) \
	lin_fwd(out, u, &L->lin[k], pair_at(dl, l, k), a->mid[k], T, beta, ws, l, k)
	rmsnorm_forward_cuda(a->xn1, a->rstd1, xin, L->attn_norm, T, c->C, c->eps);
	FWD(a->q, a->xn1, LLAMA_Q, 0);
	FWD(a->k, a->xn1, LLAMA_K, 0);
	FWD(a->v, a->xn1, LLAMA_V, 0);
	rope_forward_cuda(a->q, a->q, ws->cos_t, ws->sin_t, T, c->NH, c->HD);
	rope_forward_cuda(a->k, a->k, ws->cos_t, ws->sin_t, T, c->NKV, c->HD);
	attention_forward_cuda(a->att, a->lse, a->q, a->k, a->v, seg, llama_window(c, l), 1, T,
	                       c->NH, c->NKV, c->HD);
	d2d(a->xmid, xin, (size_t)T * c->C * sizeof(float));
	FWD(a->xmid, a->att, LLAMA_O, 1);
	rmsnorm_forward_cuda(a->xn2, a->rstd2, a->xmid, L->mlp_norm, T, c->C, c->eps);
	FWD(a->gate, a->xn2, LLAMA_GATE, 0);
	FWD(a->up, a->xn2, LLAMA_UP, 0);
	swiglu_forward_cuda(a->h, a->gate, a->up, (size_t)T * c->H);
	d2d(xout, a->xmid, (size_t)T * c->C * sizeof(float));
	FWD(xout, a->h, LLAMA_DOWN, 1);
#undef FWD
}

static void layer_backward(const struct llama_cuda_model *dm, const struct llama_cuda_lora *dl,
                           int train, int l, struct llama_cuda_ws *ws, const struct acts *a,
                           const float *xin, const int32_t *seg, int T)
{
	const struct llama_config *c = &dm->cfg;
	const struct dlayer *L = &dm->layers[l];
	size_t TC = (size_t)T * c->C * 4, TH = (size_t)T * c->H * 4;
	size_t TQ = (size_t)T * c->NH * c->HD * 4, TK = (size_t)T * c->NKV * c->HD * 4;
#define BWD(du, G, u, k) \
	lin_bwd(du, G, u, &L->lin[k], pair_at(dl, l, k), train, a->mid[k], T, ws, l, k)
	cuda_memset(ws->dh, 0, TH);
	BWD(ws->dh, ws->dx, a->h, LLAMA_DOWN);
	cuda_memset(ws->dgate, 0, TH);
	cuda_memset(ws->dup, 0, TH);
	swiglu_backward_cuda(ws->dgate, ws->dup, ws->dh, a->gate, a->up, (size_t)T * c->H);
	cuda_memset(ws->dxn, 0, TC);
	BWD(ws->dxn, ws->dgate, a->xn2, LLAMA_GATE);
	BWD(ws->dxn, ws->dup, a->xn2, LLAMA_UP);
	rmsnorm_backward_cuda(ws->dx, ws->dxn, a->xmid, L->mlp_norm, a->rstd2, T, c->C);
	cuda_memset(ws->datt, 0, TQ);
	BWD(ws->datt, ws->dx, a->att, LLAMA_O);
	cuda_memset(ws->dq, 0, TQ);
	cuda_memset(ws->dk, 0, TK);
	cuda_memset(ws->dv, 0, TK);
	attention_backward_cuda(ws->dq, ws->dk, ws->dv, ws->datt, a->q, a->k, a->v, a->att, a->lse,
	                        seg, llama_window(c, l), 1, T, c->NH, c->NKV, c->HD);
	rope_backward_cuda(ws->dq, ws->dq, ws->cos_t, ws->sin_t, T, c->NH, c->HD);
	rope_backward_cuda(ws->dk, ws->dk, ws->cos_t, ws->sin_t, T, c->NKV, c->HD);
	cuda_memset(ws->dxn, 0, TC);
	BWD(ws->dxn, ws->dq, a->xn1, LLAMA_Q);
	BWD(ws->dxn, ws->dk, a->xn1, LLAMA_K);
	BWD(ws->dxn, ws->dv, a->xn1, LLAMA_V);
	rmsnorm_backward_cuda(ws->dx, ws->dxn, xin, L->attn_norm, a->rstd1, T, c->C);
#undef BWD
}

extern "C" int llama_train_block_cuda(const struct llama_cuda_model *dm,
                                      struct llama_cuda_lora *dl, int train,
                                      struct llama_cuda_ws *ws, const int32_t *ids,
                                      const int32_t *pos, const int32_t *seg,
                                      const int32_t *targets, int T, float grad_scale,
                                      float neftune_mag, uint64_t neftune_seed,
                                      const struct llama_train_dropout *drop, double *loss_sum,
                                      struct qt_err *err)
{
	const struct llama_config *c = &dm->cfg;
	if (T > ws->T)
		return qt_err_set(err, QT_ESOFTWARE, "block of %d tokens exceeds the workspace (%d)",
		                  T, ws->T);
	size_t TC = (size_t)T * c->C, half = (size_t)c->HD / 2;
	train = train && dl;
	/* inputs; the RoPE table on the host (bit-identical to the CPU path's) */
	rope_table(ws->cos_h, ws->sin_h, pos, dm->inv_freq, T, c->HD);
	if (cuda_upload(ws->ids, ids, (size_t)T * 4) || cuda_upload(ws->tg, targets, (size_t)T * 4) ||
	    (seg && cuda_upload(ws->seg, seg, (size_t)T * 4)) ||
	    cuda_upload(ws->cos_t, ws->cos_h, (size_t)T * half * 4) ||
	    cuda_upload(ws->sin_t, ws->sin_h, (size_t)T * half * 4))
		return fail(err, "uploading the block");
	const int32_t *dseg = seg ? ws->seg : NULL;
	float *x0 = ws->xin;
	embedding_forward_cuda(x0, ws->ids, dm->embed, T, c->C, c->V);
	if (neftune_mag > 0)
		neftune_forward_cuda(x0, TC, neftune_mag, neftune_seed);
	ws->drop = train && drop && drop->p > 0 ? drop : NULL;
	for (int l = 0; l < c->n_layer; l++)
		layer_forward(dm, dl, l, ws, &ws->acts[ws->n_acts > 1 ? l : 0], ws->xin + (size_t)l * TC,
		              ws->xin + (size_t)(l + 1) * TC, dseg, T);
	const float *xlast = ws->xin + (size_t)c->n_layer * TC;
	rmsnorm_forward_cuda(ws->xf, ws->rstdf, xlast, dm->final_norm, T, c->C, c->eps);
	cuda_memset(ws->dxn, 0, TC * 4);
	lm_head_ce_cuda(ws->losses, train ? ws->dxn : NULL, ws->xf, dm->lm_head, ws->tg, T, c->C,
	                c->V, grad_scale, ws->lm_scratch, LM_CHUNK);
	if (cuda_download(ws->losses_h, ws->losses, (size_t)T * 4) != 0)
		return fail(err, "forward");
	double s = 0;
	for (int t = 0; t < T; t++)
		s += ws->losses_h[t];
	*loss_sum += s;
	if (train) {
		cuda_memset(ws->dx, 0, TC * 4);
		rmsnorm_backward_cuda(ws->dx, ws->dxn, xlast, dm->final_norm, ws->rstdf, T, c->C);
		for (int l = c->n_layer - 1; l >= 0; l--) {
			const float *xin = ws->xin + (size_t)l * TC;
			struct acts *a = &ws->acts[ws->n_acts > 1 ? l : 0];
			if (ws->n_acts == 1)
				layer_forward(dm, dl, l, ws, a, xin, ws->xf, dseg, T);
			layer_backward(dm, dl, train, l, ws, a, xin, dseg, T);
		}
	}
	ws->drop = NULL;
	return cuda_sync() == 0 ? QT_OK : fail(err, "training block");
}
