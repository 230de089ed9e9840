/* qlora-tools: ISC license. */
/* LoRA training forward/backward of one block; see llama_train.h. */
#include "kernels/llama_train.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/cross_entropy.h"
#include "kernels/embedding.h"
#include "kernels/matmul.h"
#include "kernels/nf4.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"

#define LM_CHUNK 64 /* rows of logits held at once by the chunked LM head */

/* One layer's recomputed activations (checkpointing: only one layer lives at a time). */
struct layer_acts {
	float *xn1, *rstd1, *q, *k, *v, *att, *lse, *xmid, *xn2, *rstd2, *gate, *up, *h;
	float *mid[LLAMA_N_MODULES];   /* (T, R): x A^T of each LoRA branch */
};

struct llama_train_ws {
	int    T, R, n_layer;
	float *xin;                    /* (n_layer + 1, T, C): each layer's input, then the output */
	struct layer_acts a;
	float *cos_t, *sin_t;
	/* gradients flowing through one layer */
	float *dx, *dxn, *dq, *dk, *dv, *datt, *dgate, *dup, *dh, *dmid;
	float *wbuf;                   /* one dequantized NF4 weight */
	float *lm_scratch, *losses, *xf, *rstdf;
	void  *block;
	size_t bytes;
};

static const struct adapter_lora *lora_at(const struct adapter *a, int l, int k)
{
	if (!a)
		return NULL;
	const struct adapter_lora *lo = adapter_at(a, l, k);
	return lo->A ? lo : NULL;
}

struct llama_train_ws *llama_train_ws_new(const struct llama_model *m, int T, int R)
{
	const struct llama_config *c = &m->cfg;
	size_t C = (size_t)c->C, H = (size_t)c->H, QD = (size_t)c->NH * c->HD,
	       KD = (size_t)c->NKV * c->HD, t = (size_t)T, r = (size_t)(R > 0 ? R : 1);
	size_t wmax = 0;
	for (int l = 0; l < c->n_layer; l++)
		for (int k = 0; k < LLAMA_N_MODULES; k++) {
			size_t n = (size_t)m->layers[l].lin[k].OC * m->layers[l].lin[k].C;
			wmax = !m->layers[l].lin[k].w && n > wmax ? n : wmax;
		}
	struct llama_train_ws *ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	ws->T = T;
	ws->R = R;
	ws->n_layer = c->n_layer;
	struct { float **p; size_t n; } parts[] = {
		{ &ws->xin, (size_t)(c->n_layer + 1) * t * C },
		{ &ws->a.xn1, t * C }, { &ws->a.rstd1, t }, { &ws->a.q, t * QD }, { &ws->a.k, t * KD },
		{ &ws->a.v, t * KD }, { &ws->a.att, t * QD }, { &ws->a.lse, (size_t)c->NH * t },
		{ &ws->a.xmid, t * C }, { &ws->a.xn2, t * C }, { &ws->a.rstd2, t },
		{ &ws->a.gate, t * H }, { &ws->a.up, t * H }, { &ws->a.h, t * H },
		{ &ws->a.mid[0], t * r }, { &ws->a.mid[1], t * r }, { &ws->a.mid[2], t * r },
		{ &ws->a.mid[3], t * r }, { &ws->a.mid[4], t * r }, { &ws->a.mid[5], t * r },
		{ &ws->a.mid[6], t * r },
		{ &ws->cos_t, t * c->HD / 2 }, { &ws->sin_t, t * c->HD / 2 },
		{ &ws->dx, t * C }, { &ws->dxn, t * C }, { &ws->dq, t * QD }, { &ws->dk, t * KD },
		{ &ws->dv, t * KD }, { &ws->datt, t * QD }, { &ws->dgate, t * H }, { &ws->dup, t * H },
		{ &ws->dh, t * H }, { &ws->dmid, t * r }, { &ws->wbuf, wmax },
		{ &ws->lm_scratch, lm_head_ce_scratch(LM_CHUNK, c->C, c->V) }, { &ws->losses, t },
		{ &ws->xf, t * C }, { &ws->rstdf, t },
	};
	size_t total = 0;
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
		total += parts[i].n;
	ws->block = malloc(total * sizeof(float));
	if (!ws->block) {
		free(ws);
		return NULL;
	}
	ws->bytes = total * sizeof(float);
	float *p = ws->block;
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		*parts[i].p = p;
		p += parts[i].n;
	}
	return ws;
}

void llama_train_ws_free(struct llama_train_ws *ws)
{
	if (ws)
		free(ws->block);
	free(ws);
}

size_t llama_train_ws_bytes(const struct llama_train_ws *ws) { return ws->bytes; }

static const float *weight_of(const struct llama_linear *lin, float *wbuf)
{
	if (lin->w)
		return lin->w;
	nf4_dequantize(lin->nf4, lin->absmax, lin->code, lin->blocksize, (size_t)lin->OC * lin->C,
	               wbuf);
	return wbuf;
}

/* out = beta*out + u W^T (+ s (u A^T) B^T, saving u A^T in mid). */
static void lin_fwd(float *out, const float *u, const struct llama_linear *lin,
                    const struct adapter_lora *lo, float *mid, int T, float beta, float *wbuf)
{
	linear_forward_fast(out, u, weight_of(lin, wbuf), NULL, T, lin->C, lin->OC, 1.0f, beta);
	if (lo) {
		linear_forward_fast(mid, u, lo->A, NULL, T, lin->C, lo->r, 1.0f, 0.0f);
		linear_forward_fast(out, mid, lo->B, NULL, T, lo->r, lin->OC, lo->scaling, 1.0f);
	}
}

/* du += G W (+ LoRA path); dA, dB += their gradients. dmid is scratch (T, R). */
static void lin_bwd(float *du, const float *G, const float *u, const struct llama_linear *lin,
                    const struct adapter_lora *lo, struct adapter_lora *g, const float *mid,
                    float *dmid, int T, float *wbuf)
{
	linear_backward_x_fast(du, G, weight_of(lin, wbuf), T, lin->C, lin->OC, 1.0f);
	if (lo && g) {
		linear_backward_w_fast(g->B, NULL, G, mid, T, lo->r, lin->OC, lo->scaling);
		memset(dmid, 0, (size_t)T * lo->r * sizeof(float));
		linear_backward_x_fast(dmid, G, lo->B, T, lo->r, lin->OC, lo->scaling);
		linear_backward_w_fast(g->A, NULL, dmid, u, T, lin->C, lo->r, 1.0f);
		linear_backward_x_fast(du, dmid, lo->A, T, lin->C, lo->r, 1.0f);
	}
}

/* Forward of layer l from xin to xout, keeping what its backward needs in ws->a. */
static void layer_forward(const struct llama_model *m, const struct adapter *lora, int l,
                          struct llama_train_ws *ws, const float *xin, float *xout,
                          const int32_t *seg, int T)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L = &m->layers[l];
	struct layer_acts *a = &ws->a;
	int th = m->n_threads;
	rmsnorm_forward_fast(a->xn1, a->rstd1, xin, L->attn_norm, T, c->C, c->eps, th);
	lin_fwd(a->q, a->xn1, &L->lin[LLAMA_Q], lora_at(lora, l, LLAMA_Q), a->mid[LLAMA_Q], T, 0, ws->wbuf);
	lin_fwd(a->k, a->xn1, &L->lin[LLAMA_K], lora_at(lora, l, LLAMA_K), a->mid[LLAMA_K], T, 0, ws->wbuf);
	lin_fwd(a->v, a->xn1, &L->lin[LLAMA_V], lora_at(lora, l, LLAMA_V), a->mid[LLAMA_V], T, 0, ws->wbuf);
	rope_forward(a->q, a->q, ws->cos_t, ws->sin_t, T, c->NH, c->HD);
	rope_forward(a->k, a->k, ws->cos_t, ws->sin_t, T, c->NKV, c->HD);
	attention_forward_fast(a->att, a->lse, a->q, a->k, a->v, seg, 1, T, c->NH, c->NKV, c->HD, th);
	memcpy(a->xmid, xin, (size_t)T * c->C * sizeof(float));
	lin_fwd(a->xmid, a->att, &L->lin[LLAMA_O], lora_at(lora, l, LLAMA_O), a->mid[LLAMA_O], T, 1,
	        ws->wbuf);
	rmsnorm_forward_fast(a->xn2, a->rstd2, a->xmid, L->mlp_norm, T, c->C, c->eps, th);
	lin_fwd(a->gate, a->xn2, &L->lin[LLAMA_GATE], lora_at(lora, l, LLAMA_GATE),
	        a->mid[LLAMA_GATE], T, 0, ws->wbuf);
	lin_fwd(a->up, a->xn2, &L->lin[LLAMA_UP], lora_at(lora, l, LLAMA_UP), a->mid[LLAMA_UP], T,
	        0, ws->wbuf);
	swiglu_forward(a->h, a->gate, a->up, (size_t)T * c->H);
	memcpy(xout, a->xmid, (size_t)T * c->C * sizeof(float));
	lin_fwd(xout, a->h, &L->lin[LLAMA_DOWN], lora_at(lora, l, LLAMA_DOWN), a->mid[LLAMA_DOWN],
	        T, 1, ws->wbuf);
}

/* ws->dx holds dL/d(layer output); on return it holds dL/d(layer input). */
static void layer_backward(const struct llama_model *m, const struct adapter *lora,
                           struct adapter *grad, int l, struct llama_train_ws *ws,
                           const float *xin, const int32_t *seg, int T)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L = &m->layers[l];
	struct layer_acts *a = &ws->a;
	size_t TC = (size_t)T * c->C, TH = (size_t)T * c->H;
	size_t TQ = (size_t)T * c->NH * c->HD, TK = (size_t)T * c->NKV * c->HD;
#define G(k) (grad ? adapter_at(grad, l, k) : NULL)
	/* MLP: x_out = x_mid + down(swiglu(gate(xn2), up(xn2))) */
	memset(ws->dh, 0, TH * sizeof(float));
	lin_bwd(ws->dh, ws->dx, a->h, &L->lin[LLAMA_DOWN], lora_at(lora, l, LLAMA_DOWN),
	        G(LLAMA_DOWN), a->mid[LLAMA_DOWN], ws->dmid, T, ws->wbuf);
	memset(ws->dgate, 0, TH * sizeof(float));
	memset(ws->dup, 0, TH * sizeof(float));
	swiglu_backward(ws->dgate, ws->dup, ws->dh, a->gate, a->up, TH);
	memset(ws->dxn, 0, TC * sizeof(float));
	lin_bwd(ws->dxn, ws->dgate, a->xn2, &L->lin[LLAMA_GATE], lora_at(lora, l, LLAMA_GATE),
	        G(LLAMA_GATE), a->mid[LLAMA_GATE], ws->dmid, T, ws->wbuf);
	lin_bwd(ws->dxn, ws->dup, a->xn2, &L->lin[LLAMA_UP], lora_at(lora, l, LLAMA_UP),
	        G(LLAMA_UP), a->mid[LLAMA_UP], ws->dmid, T, ws->wbuf);
	rmsnorm_backward(ws->dx, ws->dxn, a->xmid, L->mlp_norm, a->rstd2, T, c->C);
	/* Attention: x_mid = x_in + o(attn(rope(q), rope(k), v)) */
	memset(ws->datt, 0, TQ * sizeof(float));
	lin_bwd(ws->datt, ws->dx, a->att, &L->lin[LLAMA_O], lora_at(lora, l, LLAMA_O), G(LLAMA_O),
	        a->mid[LLAMA_O], ws->dmid, T, ws->wbuf);
	memset(ws->dq, 0, TQ * sizeof(float));
	memset(ws->dk, 0, TK * sizeof(float));
	memset(ws->dv, 0, TK * sizeof(float));
	attention_backward_fast(ws->dq, ws->dk, ws->dv, ws->datt, a->q, a->k, a->v, a->att, a->lse,
	                        seg, 1, T, c->NH, c->NKV, c->HD, m->n_threads);
	rope_backward(ws->dq, ws->dq, ws->cos_t, ws->sin_t, T, c->NH, c->HD);
	rope_backward(ws->dk, ws->dk, ws->cos_t, ws->sin_t, T, c->NKV, c->HD);
	memset(ws->dxn, 0, TC * sizeof(float));
	lin_bwd(ws->dxn, ws->dq, a->xn1, &L->lin[LLAMA_Q], lora_at(lora, l, LLAMA_Q), G(LLAMA_Q),
	        a->mid[LLAMA_Q], ws->dmid, T, ws->wbuf);
	lin_bwd(ws->dxn, ws->dk, a->xn1, &L->lin[LLAMA_K], lora_at(lora, l, LLAMA_K), G(LLAMA_K),
	        a->mid[LLAMA_K], ws->dmid, T, ws->wbuf);
	lin_bwd(ws->dxn, ws->dv, a->xn1, &L->lin[LLAMA_V], lora_at(lora, l, LLAMA_V), G(LLAMA_V),
	        a->mid[LLAMA_V], ws->dmid, T, ws->wbuf);
	rmsnorm_backward(ws->dx, ws->dxn, xin, L->attn_norm, a->rstd1, T, c->C);
#undef G
}

int llama_train_block(const struct llama_model *m, const struct adapter *lora,
                      struct adapter *grad, struct llama_train_ws *ws, const int32_t *ids,
                      const int32_t *pos, const int32_t *seg, const int32_t *targets, int T,
                      float grad_scale, float neftune_mag, uint64_t neftune_seed,
                      double *loss_sum, struct qt_err *err)
{
	const struct llama_config *c = &m->cfg;
	if (T > ws->T)
		return qt_err_set(err, QT_ESOFTWARE, "block of %d tokens exceeds the workspace (%d)",
		                  T, ws->T);
	size_t TC = (size_t)T * c->C;
	float *x0 = ws->xin;
	embedding_forward(x0, ids, m->embed, T, c->C, c->V);
	if (neftune_mag > 0)
		neftune_forward(x0, TC, neftune_mag, neftune_seed);
	rope_table(ws->cos_t, ws->sin_t, pos, m->inv_freq, T, c->HD);
	for (int l = 0; l < c->n_layer; l++)
		layer_forward(m, lora, l, ws, ws->xin + (size_t)l * TC, ws->xin + (size_t)(l + 1) * TC,
		              seg, T);
	const float *xlast = ws->xin + (size_t)c->n_layer * TC;
	rmsnorm_forward_fast(ws->xf, ws->rstdf, xlast, m->final_norm, T, c->C, c->eps, m->n_threads);
	memset(ws->dxn, 0, TC * sizeof(float));
	lm_head_ce(ws->losses, grad ? ws->dxn : NULL, ws->xf, m->lm_head.w, targets, T, c->C, c->V,
	           grad_scale, ws->lm_scratch, LM_CHUNK);
	double s = 0;
	for (int t = 0; t < T; t++)
		s += ws->losses[t];
	*loss_sum += s;
	if (!grad)
		return QT_OK;
	memset(ws->dx, 0, TC * sizeof(float));
	rmsnorm_backward(ws->dx, ws->dxn, xlast, m->final_norm, ws->rstdf, T, c->C);
	for (int l = c->n_layer - 1; l >= 0; l--) {
		const float *xin = ws->xin + (size_t)l * TC;
		/* Recompute this layer's activations (checkpointing), then go back through it. */
		layer_forward(m, lora, l, ws, xin, ws->xf, seg, T);
		layer_backward(m, lora, grad, l, ws, xin, seg, T);
	}
	return QT_OK;
}
