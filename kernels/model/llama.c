/* qlora-tools: ISC license. */
/*
 * The Llama forward pass composed from kernels/ ops; see llama.h. Activations are f32 buffers
 * allocated per call (their cost is small next to the matmuls); no arithmetic happens here.
 */
#include "kernels/model/llama.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/columns.h"
#include "kernels/embedding.h"
#include "kernels/geglu.h"
#include "kernels/matmul.h"
#include "kernels/matvec.h"
#include "kernels/nf4.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/softcap.h"
#include "kernels/swiglu.h"

void llama_free(struct llama_model *m)
{
	if (m->release)
		m->release(m);
	memset(m, 0, sizeof *m);
}

int llama_cache_init(struct llama_cache *c, const struct llama_config *cfg, int B, int L,
                     struct qt_err *err)
{
	memset(c, 0, sizeof *c);
	c->n_layer = cfg->n_layer;
	c->B = B;
	c->L = L;
	c->NKV = cfg->NKV;
	c->HD = cfg->HD;
	size_t n = (size_t)cfg->n_layer * B * L * cfg->NKV * cfg->HD;
	c->k = malloc(n * sizeof(float));
	c->v = malloc(n * sizeof(float));
	c->past = calloc((size_t)B, sizeof(int32_t));
	if (!c->k || !c->v || !c->past) {
		llama_cache_free(c);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory for a KV cache of %d x %d tokens",
		                  B, L);
	}
	return QT_OK;
}

int llama_cache_prefix(struct llama_cache *c, const struct llama_config *cfg,
                       const struct lora_table *lora, struct qt_err *err)
{
	int P = lora_prefix_len(lora);
	if (P == 0)
		return QT_OK;
	if (P >= c->L)
		return qt_err_set(err, QT_EDATA, "a prefix of %d slots does not fit a cache of %d", P,
		                  c->L);
	size_t kvd = (size_t)cfg->NKV * cfg->HD, ps = (size_t)cfg->n_layer * 2 * kvd;
	for (int l = 0; l < cfg->n_layer; l++)
		for (int b = 0; b < c->B; b++)
			for (int p = 0; p < P; p++) {
				size_t dst = (((size_t)l * c->B + b) * c->L + p) * kvd;
				const float *src = lora->prefix + (size_t)p * ps + (size_t)2 * l * kvd;
				memcpy(c->k + dst, src, kvd * sizeof(float));
				memcpy(c->v + dst, src + kvd, kvd * sizeof(float));
			}
	for (int b = 0; b < c->B; b++)
		c->past[b] = P;
	c->pos_base = lora->prefix_pos0 ? P : 0;
	return QT_OK;
}

void llama_cache_free(struct llama_cache *c)
{
	free(c->k);
	free(c->v);
	free(c->past);
	memset(c, 0, sizeof *c);
}

size_t llama_linear_scratch(const struct llama_linear *lin, int T, int R)
{
	size_t n = (size_t)T * (size_t)(R > 0 ? R : 0);
	if (!lin->w)
		n += (size_t)lin->OC * lin->C;
	return n;
}

static int round_of(const struct llama_linear *lin)
{
	return lin->deq_dtype == QT_DTYPE_BF16 ? 1 : lin->deq_dtype == QT_DTYPE_F16 ? 2 : 0;
}

void llama_linear_dequant(const struct llama_linear *lin, float *out)
{
	matvec_nf4_dequant(out, lin->nf4, lin->absmax, lin->code, lin->blocksize, round_of(lin),
	                   lin->C, lin->OC, 1);
}

void llama_linear_forward(float *out, const float *x, const struct llama_linear *lin,
                          const struct lora_pair *lo, int T, float beta, float *scratch,
                          int n_threads)
{
	/* GEMMs use OpenBLAS's own threads; n_threads is for matvec and NF4 dequantization */
	const float *W = lin->w;
	float *mid = W ? scratch : scratch + (size_t)lin->OC * lin->C; /* LoRA (T, R) */
	if (T <= MATVEC_MAX_T && W) {
		/* decoding: no SGEMM packing of the weight */
		if (lin->wb)
			matvec_bf16_forward(out, x, lin->wb, T, lin->C, lin->OC, beta, n_threads);
		else
			matvec_forward(out, x, W, T, lin->C, lin->OC, beta, n_threads);
	} else if (T <= MATVEC_MAX_T) {
		/* NF4 rows dequantized one at a time, as llama_linear_dequant */
		matvec_nf4_forward(out, x, lin->nf4, lin->absmax, lin->code, lin->blocksize, round_of(lin),
		                   T, lin->C, lin->OC, beta, scratch, n_threads);
	} else {
		if (!W) {
			matvec_nf4_dequant(scratch, lin->nf4, lin->absmax, lin->code, lin->blocksize,
			                   round_of(lin), lin->C, lin->OC, n_threads);
			W = scratch;
		}
		linear_forward_fast(out, x, W, NULL, T, lin->C, lin->OC, 1.0f, beta);
	}
	if (lin->bias)
		bias_forward(out, lin->bias, T, lin->OC);
	if (lo && lo->A && lo->r > 0) {
		linear_forward_fast(mid, x, lo->A, NULL, T, lin->C, lo->r, 1.0f, 0.0f);
		linear_forward_fast(out, mid, lo->B, NULL, T, lo->r, lin->OC, lo->scaling, 1.0f);
	}
}

/* ---- shared pieces of the two forward paths ---- */

struct acts {
	float *x, *xn, *q, *k, *v, *att, *gate, *up, *cos_t, *sin_t, *scratch;
	float *br; /* (n, C) a branch's output before its sandwich norm (Gemma-2) */
	float *fz; /* (n, max(q + 2 kv, 2 H)) a fused projection's output (Phi-3), else empty */
	float *lse; /* (NH, n) log-sum-exp of attention rows, to merge a prefix into */
	int32_t *pos;
	void *block;
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

static int acts_alloc(struct acts *a, const struct llama_model *m, int n, int R,
                      struct qt_err *err)
{
	const struct llama_config *c = &m->cfg;
	size_t sc = 0;
	for (int l = 0; l < c->n_layer; l++)
		for (int k = 0; k < LLAMA_N_MODULES; k++) {
			size_t s = llama_linear_scratch(&m->layers[l].lin[k], n, R);
			sc = s > sc ? s : sc;
		}
	size_t qd = (size_t)c->NH * c->HD, kd = (size_t)c->NKV * c->HD;
	size_t sizes[] = { (size_t)n * c->C, (size_t)n * c->C, n * qd, n * kd, n * kd, n * qd,
	                   (size_t)n * c->H, (size_t)n * c->H, (size_t)n * c->HD / 2,
	                   (size_t)n * c->HD / 2, sc, (size_t)n * c->C,
	                   c->fused ? (size_t)n * (qd + 2 * kd > 2 * (size_t)c->H ? qd + 2 * kd
	                                                                        : 2 * (size_t)c->H)
	                            : 0, (size_t)c->NH * n };
	float **dst[] = { &a->x, &a->xn, &a->q, &a->k, &a->v, &a->att, &a->gate, &a->up,
	                  &a->cos_t, &a->sin_t, &a->scratch, &a->br, &a->fz, &a->lse };
	size_t total = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		total += sizes[i];
	a->block = malloc(total * sizeof(float) + (size_t)n * sizeof(int32_t));
	if (!a->block)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory for activations of %d tokens", n);
	float *p = a->block;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		*dst[i] = p;
		p += sizes[i];
	}
	a->pos = (int32_t *)p;
	return QT_OK;
}

static void embed_rows(float *x, const struct llama_model *m, const int32_t *ids, int n)
{
	int C = m->cfg.C;
	for (int t = 0; t < n; t++)
		memcpy(x + (size_t)t * C, m->embed + (size_t)ids[t] * C, (size_t)C * sizeof(float));
	if (m->cfg.embed_scale)
		embedding_scale(x, (size_t)n * C, m->cfg.embed_scale);
}

/* Attention-independent first half of a layer: xn = norm(x); q, k, v projections (q and k
 * normalized per head where the family does) with RoPE. */
static void layer_qkv(const struct llama_model *m, const struct lora_table *lora, int l,
                      struct acts *a, int n)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L = &m->layers[l];
	rmsnorm_forward_fast(a->xn, NULL, a->x, L->attn_norm, n, c->C, c->eps, m->n_threads);
	if (c->fused & LORA_FUSED_QKV) {
		llama_linear_forward(a->fz, a->xn, &L->lin[LLAMA_Q], lora_of(lora, l, LLAMA_Q), n, 0.0f,
		                     a->scratch, m->n_threads);
		int w[3] = { c->NH * c->HD, c->NKV * c->HD, c->NKV * c->HD };
		columns_split((float *const[]){ a->q, a->k, a->v }, a->fz, n, w, 3);
	} else {
		llama_linear_forward(a->q, a->xn, &L->lin[LLAMA_Q], lora_of(lora, l, LLAMA_Q), n, 0.0f,
		                     a->scratch, m->n_threads);
		llama_linear_forward(a->k, a->xn, &L->lin[LLAMA_K], lora_of(lora, l, LLAMA_K), n, 0.0f,
		                     a->scratch, m->n_threads);
		llama_linear_forward(a->v, a->xn, &L->lin[LLAMA_V], lora_of(lora, l, LLAMA_V), n, 0.0f,
		                     a->scratch, m->n_threads);
	}
	if (L->q_norm) {
		rmsnorm_forward_fast(a->q, NULL, a->q, L->q_norm, n * c->NH, c->HD, c->eps, m->n_threads);
		rmsnorm_forward_fast(a->k, NULL, a->k, L->k_norm, n * c->NKV, c->HD, c->eps,
		                     m->n_threads);
	}
	rope_forward_part(a->q, a->q, a->cos_t, a->sin_t, n, c->NH, c->HD, llama_rot(c),
	                  c->rope_interleaved);
	rope_forward_part(a->k, a->k, a->cos_t, a->sin_t, n, c->NKV, c->HD, llama_rot(c),
	                  c->rope_interleaved);
}

/* A branch's output added to the residual stream x: directly, or after its sandwich norm. */
static void branch_add(const struct llama_model *m, const struct lora_table *lora, int l, int k,
                       const float *norm, struct acts *a, const float *u, int n)
{
	const struct llama_layer *L = &m->layers[l];
	const struct llama_config *c = &m->cfg;
	if (!norm) {
		llama_linear_forward(a->x, u, &L->lin[k], lora_of(lora, l, k), n, 1.0f, a->scratch,
		                     m->n_threads);
		return;
	}
	llama_linear_forward(a->br, u, &L->lin[k], lora_of(lora, l, k), n, 0.0f, a->scratch,
	                     m->n_threads);
	rmsnorm_forward_fast(a->br, NULL, a->br, norm, n, c->C, c->eps, m->n_threads);
	residual_add(a->x, a->br, (size_t)n * c->C);
}

/* Second half: x += [norm] o(att); x += [norm] down(act(gate(norm x), up(norm x))). */
static void layer_out_mlp(const struct llama_model *m, const struct lora_table *lora, int l,
                          struct acts *a, int n)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L = &m->layers[l];
	branch_add(m, lora, l, LLAMA_O, L->post_attn_norm, a, a->att, n);
	rmsnorm_forward_fast(a->xn, NULL, a->x, L->mlp_norm, n, c->C, c->eps, m->n_threads);
	if (c->fused & LORA_FUSED_GATE_UP) {
		llama_linear_forward(a->fz, a->xn, &L->lin[LLAMA_GATE], lora_of(lora, l, LLAMA_GATE), n,
		                     0.0f, a->scratch, m->n_threads);
		columns_split((float *const[]){ a->gate, a->up }, a->fz, n, (int[]){ c->H, c->H }, 2);
	} else {
		llama_linear_forward(a->gate, a->xn, &L->lin[LLAMA_GATE], lora_of(lora, l, LLAMA_GATE),
		                     n, 0.0f, a->scratch, m->n_threads);
		llama_linear_forward(a->up, a->xn, &L->lin[LLAMA_UP], lora_of(lora, l, LLAMA_UP), n,
		                     0.0f, a->scratch, m->n_threads);
	}
	if (c->act == LLAMA_ACT_GELU_TANH)
		geglu_forward(a->gate, a->gate, a->up, (size_t)n * c->H);
	else
		swiglu_forward(a->gate, a->gate, a->up, (size_t)n * c->H);
	branch_add(m, lora, l, LLAMA_DOWN, L->post_mlp_norm, a, a->gate, n);
}

/* ---- generation with a KV cache ---- */

int llama_decode(const struct llama_model *m, const struct lora_table *lora, struct llama_cache *c,
                 const int32_t *ids, int B, int TN, float *logits, struct qt_err *err)
{
	const struct llama_config *cf = &m->cfg;
	int n = B * TN;
	for (int b = 0; b < B; b++)
		if (c->past[b] + TN > c->L)
			return qt_err_set(err, QT_EDATA, "context of %d tokens exceeds the cache (%d)",
			                  c->past[b] + TN, c->L);
	struct acts a;
	if (acts_alloc(&a, m, n, max_rank(lora), err) != QT_OK)
		return QT_ESOFTWARE;
	embed_rows(a.x, m, ids, n);
	for (int b = 0; b < B; b++)
		for (int i = 0; i < TN; i++)
			a.pos[b * TN + i] = c->past[b] + i - c->pos_base;
	rope_table(a.cos_t, a.sin_t, a.pos, m->inv_freq, n, llama_rot(cf));
	size_t row = (size_t)cf->NKV * cf->HD;
	for (int l = 0; l < cf->n_layer; l++) {
		layer_qkv(m, lora, l, &a, n);
		float *kc = c->k + (size_t)l * B * c->L * row, *vc = c->v + (size_t)l * B * c->L * row;
		for (int b = 0; b < B; b++) {
			size_t dst = ((size_t)b * c->L + (size_t)c->past[b]) * row;
			memcpy(kc + dst, a.k + (size_t)b * TN * row, (size_t)TN * row * sizeof(float));
			memcpy(vc + dst, a.v + (size_t)b * TN * row, (size_t)TN * row * sizeof(float));
		}
		struct attn_opts ao = llama_attn(cf, l);
		attention_decode_fast(a.att, a.q, kc, vc, c->past, &ao, B, TN, c->L, cf->NH, cf->NKV,
		                      cf->HD, m->n_threads);
		layer_out_mlp(m, lora, l, &a, n);
	}
	/* Only each row's last token needs logits. */
	for (int b = 0; b < B; b++)
		memcpy(a.xn + (size_t)b * cf->C, a.x + ((size_t)b * TN + TN - 1) * cf->C,
		       (size_t)cf->C * sizeof(float));
	rmsnorm_forward_fast(a.xn, NULL, a.xn, m->final_norm, B, cf->C, cf->eps, m->n_threads);
	llama_linear_forward(logits, a.xn, &m->lm_head, NULL, B, 0.0f, a.scratch, m->n_threads);
	if (cf->final_softcap > 0)
		softcap_forward(logits, logits, (size_t)B * cf->V, cf->final_softcap);
	for (int b = 0; b < B; b++)
		c->past[b] += TN;
	free(a.block);
	return QT_OK;
}

/* ---- one packed sequence, no cache ---- */

int llama_forward(const struct llama_model *m, const struct lora_table *lora, const int32_t *ids,
                  const int32_t *pos, const int32_t *seg, int T, float *logits,
                  struct qt_err *err)
{
	const struct llama_config *cf = &m->cfg;
	struct acts a;
	if (acts_alloc(&a, m, T, max_rank(lora), err) != QT_OK)
		return QT_ESOFTWARE;
	embed_rows(a.x, m, ids, T);
	/* prefix tuning: positions after the prefix, unless they start at 0 */
	int P = lora_prefix_len(lora), shift = P && !lora->prefix_pos0 ? P : 0;
	for (int t = 0; t < T; t++)
		a.pos[t] = pos[t] + shift;
	rope_table(a.cos_t, a.sin_t, a.pos, m->inv_freq, T, llama_rot(cf));
	size_t kvd = (size_t)cf->NKV * cf->HD, ps = (size_t)cf->n_layer * 2 * kvd;
	for (int l = 0; l < cf->n_layer; l++) {
		layer_qkv(m, lora, l, &a, T);
		struct attn_opts ao = llama_attn(cf, l);
		attention_forward_fast(a.att, P ? a.lse : NULL, a.q, a.k, a.v, seg, &ao, 1, T, cf->NH,
		                       cf->NKV, cf->HD, m->n_threads);
		if (P)
			attention_prefix_forward(a.att, a.lse, a.q, lora->prefix + 2 * l * kvd,
			                         lora->prefix + (2 * l + 1) * kvd, ps, pos, &ao, T, cf->NH,
			                         cf->NKV, cf->HD, P);
		layer_out_mlp(m, lora, l, &a, T);
	}
	rmsnorm_forward_fast(a.xn, NULL, a.x, m->final_norm, T, cf->C, cf->eps, m->n_threads);
	llama_linear_forward(logits, a.xn, &m->lm_head, NULL, T, 0.0f, a.scratch, m->n_threads);
	if (cf->final_softcap > 0)
		softcap_forward(logits, logits, (size_t)T * cf->V, cf->final_softcap);
	free(a.block);
	return QT_OK;
}
