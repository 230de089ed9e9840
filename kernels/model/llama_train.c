/* qlora-tools: ISC license. */
/* LoRA training forward/backward of one block over the model's backend; see llama_train.h. */
#include "kernels/model/llama_train.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/cross_entropy.h"
#include "kernels/dropout.h"
#include "kernels/rope.h"

#define LM_CHUNK 64 /* rows of logits held at once by the chunked LM head */

/* One layer's activations: kept from the forward, or recomputed in the backward pass. With
 * keep_attn a recomputed layer still keeps its own att, lse, xmid and the sandwich norms' ao,
 * rstdao, mo, rstdmo (saved_act): with them its recompute skips attention's forward and the o
 * and down frozen products (a third of a layer's forward at SmolLM2's shapes) for about 2 T C
 * floats more a layer. */
struct layer_acts {
	float *xn1, *rstd1, *q, *k, *v, *att, *lse, *xmid, *xn2, *rstd2, *gate, *up, *h;
	float *qp, *kp, *rstdq, *rstdk; /* q_norm/k_norm: q and k before them, their 1/rms; else
	                                   empty */
	float *ao, *rstdao, *mo, *rstdmo; /* sandwich norms (Gemma-2): the o and down outputs
	                                     before their norms, their 1/rms; else empty */
	float *mid[LLAMA_N_MODULES];   /* (T, R): x A^T of each LoRA branch */
};

struct llama_train_ws {
	const struct qt_backend *be;   /* whose memory the buffers below are in (but the host ones) */
	int    T, R, n_layer;
	int    first_kept;             /* layers below it are recomputed in the backward pass */
	int    keep_attn;              /* those keep their saved_act fields */
	long   hits;                   /* the last loss-only block's count (lm_head_eval); -2: none */
	float *xin;                    /* (n_layer + 1, T, C): each layer's input, then the output */
	struct layer_acts *acts;       /* [n_layer]: the recomputed layers share their buffers
	                                  (with keep_attn all but the saved_act ones) */
	float *cos_t, *sin_t;
	/* gradients flowing through one layer */
	float *dx, *dxn, *dq, *dk, *dv, *datt, *dgate, *dup, *dh, *dmid;
	float *dqp, *dkp;              /* q_norm/k_norm: gradients of q and k before them */
	float *br;                     /* (T, C) sandwich norms: a normed branch output */
	float *fz;                     /* (T, max(q + 2 kv, 2 H)) fused projections: an output
	                                  before its split, or its parts' joined gradient */
	float *acat, *mcat;            /* (3 R, max in) a group's LoRA A one after another; (T, 3 R)
	                                  its product with the group's input */
	void  *wbuf;                   /* the frozen linears' scratch (CUDA: an NF4 weight
	                                  dequantized; the CPU makes f32 tiles of its own) */
	struct frozen_linear lin[LLAMA_N_MODULES]; /* the current layer's linears */
	float *ubuf;                   /* (T, max in): a dropped-out LoRA input, or its gradient */
	const struct llama_train_dropout *drop; /* this call's dropout, NULL when off */
	int32_t *ids, *dpos, *seg, *tg; /* (T) this call's inputs in the backend (dpos: positions per
	                                   packed segment, from 0) */
	float *lm_scratch, *losses, *xf, *rstdf;
	void  *block;
	size_t bytes;
	/* host */
	int32_t *rpos;                 /* (T) the positions RoPE sees (after a prefix) */
	float *cos_h, *sin_h, *losses_h;
};

static const struct lora_pair *lora_at(const struct lora_table *a, int l, int k)
{
	if (!a || l >= a->n_layers || !a->pairs)
		return NULL;
	const struct lora_pair *lo = lora_table_at(a, l, k);
	return lo->A ? lo : NULL;
}

static int fail(const struct qt_backend *be, const char *what, struct qt_err *err)
{
	const char *e = be->error();
	qt_err_set(err, QT_ESOFTWARE, "%s: %s: %s", be->name, what, e ? e : "failed");
	be->error_clear();
	return QT_ESOFTWARE;
}

/* The element counts of one layer's activations (layer_acts' fields in order) and of the
 * step's fixed buffers depend on the same shapes; act_n[] gets the former. */
enum { NNAMED = 21, NACT = NNAMED + LLAMA_N_MODULES };

/* Whether layer_acts' field i is one a recomputed layer keeps with keep_attn (att, lse, xmid,
 * ao, rstdao, mo, rstdmo): outputs of the steps its recompute then skips. */
static int saved_act(size_t i) { return (i >= 5 && i <= 7) || (i >= 17 && i <= 20); }

/* The addresses of a's fields in layer_act_sizes' order. */
static void act_fields(struct layer_acts *a, float **ap[NACT])
{
	float **named[NNAMED] = { &a->xn1, &a->rstd1, &a->q, &a->k, &a->v, &a->att, &a->lse,
	                          &a->xmid, &a->xn2, &a->rstd2, &a->gate, &a->up, &a->h, &a->qp,
	                          &a->kp, &a->rstdq, &a->rstdk, &a->ao, &a->rstdao, &a->mo,
	                          &a->rstdmo };
	for (int i = 0; i < NNAMED; i++)
		ap[i] = named[i];
	for (int k = 0; k < LLAMA_N_MODULES; k++)
		ap[NNAMED + k] = &a->mid[k];
}

static void layer_act_sizes(const struct llama_model *m, int T, int R, size_t act_n[NACT])
{
	const struct llama_config *c = &m->cfg;
	size_t C = (size_t)c->C, H = (size_t)c->H, QD = (size_t)c->NH * c->HD,
	       KD = (size_t)c->NKV * c->HD, t = (size_t)T, r = (size_t)(R > 0 ? R : 1);
	size_t qkn = c->n_layer > 0 && m->layers[0].q_norm ? 1 : 0;         /* Qwen3 */
	size_t sw = c->n_layer > 0 && m->layers[0].post_attn_norm ? 1 : 0;  /* Gemma-2 */
	size_t named[NNAMED] = { t * C, t, t * QD, t * KD, t * KD, t * QD, (size_t)c->NH * t,
	                         t * C, t * C, t, t * H, t * H, t * H, qkn * t * QD, qkn * t * KD,
	                         qkn * t * c->NH, qkn * t * c->NKV, sw * t * C, sw * t, sw * t * C,
	                         sw * t };
	for (int i = 0; i < NNAMED; i++)
		act_n[i] = named[i];
	for (int k = 0; k < LLAMA_N_MODULES; k++)
		act_n[NNAMED + k] = t * r;
}

/* Bytes of one layer's activations: all of them, or only the saved_act ones. */
static size_t act_bytes(const struct llama_model *m, int T, int R, int saved_only)
{
	size_t act_n[NACT], total = 0;
	layer_act_sizes(m, T, R, act_n);
	for (size_t i = 0; i < NACT; i++)
		total += !saved_only || saved_act(i) ? (act_n[i] + 63) / 64 * 64 : 0;
	return total * sizeof(float);
}

size_t llama_train_layer_bytes(const struct llama_model *m, int T, int R)
{
	return act_bytes(m, T, R, 0);
}

size_t llama_train_attn_bytes(const struct llama_model *m, int T, int R)
{
	return act_bytes(m, T, R, 1);
}

struct llama_train_ws *llama_train_ws_new(const struct llama_model *m, int T, int R,
                                          int checkpointing)
{
	return llama_train_ws_new_kept(m, T, R, checkpointing ? 0 : m->cfg.n_layer);
}

struct llama_train_ws *llama_train_ws_new_kept(const struct llama_model *m, int T, int R,
                                               int kept)
{
	return llama_train_ws_new_plan(m, T, R, kept, 0);
}

struct llama_train_ws *llama_train_ws_new_plan(const struct llama_model *m, int T, int R,
                                               int kept, int keep_attn)
{
	const struct llama_config *c = &m->cfg;
	const struct qt_backend *be = llama_be(m);
	size_t C = (size_t)c->C, H = (size_t)c->H, QD = (size_t)c->NH * c->HD,
	       KD = (size_t)c->NKV * c->HD, t = (size_t)T, r = (size_t)(R > 0 ? R : 1);
	size_t wmax = 0, umax = C > H ? C : H, half = (size_t)c->HD / 2;
	umax = QD > umax ? QD : umax;
	for (int l = 0; l < c->n_layer; l++)
		for (int k = 0; k < LLAMA_N_MODULES; k++) {
			size_t n = be->frozen_scratch(&m->layers[l].lin[k], T);
			wmax = n > wmax ? n : wmax;
		}
	wmax = (wmax + 255) / 256 * 256;
	size_t qkn = m->cfg.n_layer > 0 && m->layers[0].q_norm ? 1 : 0; /* Qwen3 */
	size_t sw = m->cfg.n_layer > 0 && m->layers[0].post_attn_norm ? 1 : 0; /* Gemma-2 */
	size_t fzn = QD + 2 * KD > 2 * H ? QD + 2 * KD : 2 * H;
	struct llama_train_ws *ws = calloc(1, sizeof *ws);
	kept = kept < 0 ? 0 : kept > c->n_layer ? c->n_layer : kept;
	size_t nl = (size_t)c->n_layer, na = (size_t)kept + (kept < c->n_layer);
	if (!ws || !(ws->acts = calloc(nl ? nl : 1, sizeof *ws->acts))) {
		free(ws);
		return NULL;
	}
	ws->be = be;
	ws->T = T;
	ws->R = R;
	ws->n_layer = c->n_layer;
	ws->first_kept = c->n_layer - kept;
	ws->keep_attn = keep_attn && kept < c->n_layer;
	ws->hits = -2;
	struct { float **p; size_t n; } fixed[] = {
		{ &ws->xin, (size_t)(c->n_layer + 1) * t * C },
		{ &ws->cos_t, t * half }, { &ws->sin_t, t * half },
		{ &ws->dx, t * C }, { &ws->dxn, t * C }, { &ws->dq, t * QD }, { &ws->dk, t * KD },
		{ &ws->dv, t * KD }, { &ws->datt, t * QD }, { &ws->dgate, t * H }, { &ws->dup, t * H },
		{ &ws->dh, t * H }, { &ws->dmid, t * r }, { &ws->ubuf, t * umax },
		{ &ws->lm_scratch, lm_head_ce_scratch(LM_CHUNK, c->C, c->V) }, { &ws->losses, t },
		{ &ws->xf, t * C }, { &ws->rstdf, t }, { &ws->dqp, qkn * t * QD },
		{ &ws->dkp, qkn * t * KD }, { &ws->br, sw * t * C }, { &ws->fz, t * fzn },
		{ &ws->acat, 3 * r * umax }, { &ws->mcat, t * 3 * r },
	};
	enum { NFIX = sizeof fixed / sizeof *fixed };
	/* One layer's activations for each kept layer and once for the recomputed ones; with
	 * keep_attn each layer's own saved_act ones. */
	size_t act_n[NACT];
	layer_act_sizes(m, T, R, act_n);
	size_t total = 0;
	/* pieces aligned to 64 floats (256 bytes: cuBLAS) */
	for (size_t i = 0; i < NFIX; i++)
		total += (fixed[i].n + 63) / 64 * 64;
	for (size_t i = 0; i < NACT; i++)
		total += (act_n[i] + 63) / 64 * 64 * (ws->keep_attn && saved_act(i) ? nl : na);
	size_t bytes = total * sizeof(float) + wmax + 4 * t * sizeof(int32_t);
	ws->block = be->alloc(bytes);
	ws->rpos = malloc(t * sizeof(int32_t) + (2 * t * half + t) * sizeof(float));
	if (!ws->block || !ws->rpos) {
		llama_train_ws_free(ws);
		return NULL;
	}
	ws->bytes = bytes;
	ws->cos_h = (float *)(ws->rpos + t);
	ws->sin_h = ws->cos_h + t * half;
	ws->losses_h = ws->sin_h + t * half;
	float *p = ws->block;
	for (size_t i = 0; i < NFIX; i++) {
		*fixed[i].p = p;
		p += (fixed[i].n + 63) / 64 * 64;
	}
	/* top down, so that the highest recomputed layer makes the buffers the lower ones share */
	for (int l = c->n_layer - 1; l >= 0; l--) {
		float **ap[NACT], **sp[NACT];
		act_fields(&ws->acts[l], ap);
		int shared = l < ws->first_kept - 1;
		if (shared)
			act_fields(&ws->acts[ws->first_kept - 1], sp);
		for (size_t i = 0; i < NACT; i++) {
			if (shared && !(ws->keep_attn && saved_act(i))) {
				*ap[i] = *sp[i];
				continue;
			}
			*ap[i] = p;
			p += (act_n[i] + 63) / 64 * 64;
		}
	}
	ws->wbuf = p;
	ws->ids = (int32_t *)((char *)ws->wbuf + wmax);
	ws->dpos = ws->ids + t;
	ws->seg = ws->dpos + t;
	ws->tg = ws->seg + t;
	return ws;
}

void llama_train_ws_free(struct llama_train_ws *ws)
{
	if (ws) {
		if (ws->block)
			ws->be->free(ws->block);
		free(ws->acts);
		free(ws->rpos);
	}
	free(ws);
}

size_t llama_train_ws_bytes(const struct llama_train_ws *ws) { return ws->bytes; }

/* The dropout of branch (l, k) in this call, or NULL. */
static const struct llama_train_dropout *drop_of(const struct llama_train_ws *ws)
{
	return ws->drop && ws->drop->p > 0 ? ws->drop : NULL;
}

static uint64_t mix64(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ull; /* splitmix64 */
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint64_t llama_train_dropout_seed(uint64_t seed, uint64_t step, uint64_t block, int layer,
                                  int module)
{
	uint64_t z = mix64(seed ^ 0x4C6F526144726F70ull); /* "LoRaDrop": apart from NEFTune's */
	z = mix64(z ^ step);
	z = mix64(z ^ block);
	return mix64(z ^ ((uint64_t)(uint32_t)layer << 8 | (uint64_t)(uint32_t)module));
}

static uint64_t drop_seed(const struct llama_train_dropout *d, int l, int k)
{
	return llama_train_dropout_seed(d->seed, d->step, d->block, l, k);
}

/* Layer l's frozen linears into ws->lin, where fused_view finds them. */
static void layer_weights(const struct llama_model *m, struct llama_train_ws *ws, int l)
{
	memcpy(ws->lin, m->layers[l].lin, sizeof ws->lin);
}

/* Whether NF4 weights b follows a in memory, a's off elements after its start, with the same
 * blocks, table and cast (jobs/llama_load.c loads q, k, v and gate, up so). */
static int nf4_follows(const struct frozen_linear *a, const struct frozen_linear *b, size_t off)
{
	return a->nf4 && b->nf4 && off % 2 == 0 && a->blocksize && off % a->blocksize == 0 &&
	       b->blocksize == a->blocksize && b->deq_dtype == a->deq_dtype &&
	       b->nf4 == a->nf4 + off / 2 && b->absmax == a->absmax + off / a->blocksize &&
	       (b->code == a->code || memcmp(b->code, a->code, 16 * sizeof *a->code) == 0);
}

/* Modules k .. k + n - 1 of ws->lin as one frozen linear without bias, when their weights lie
 * one after another (jobs/llama_load.c reads q, k, v and gate, up so): f32, or on the CPU NF4
 * (whose products make f32 tiles of any such weight; CUDA's scratch holds one module): 1, or 0
 * when they do not. */
static int fused_view(const struct llama_train_ws *ws, int k, int n, struct frozen_linear *v)
{
	const struct frozen_linear *a = &ws->lin[k];
	int q = !a->w && a->nf4 && ws->be->host;
	*v = q ? *a : (struct frozen_linear){ .C = a->C, .w = a->w };
	v->OC = 0;
	v->bias = NULL;
	v->wb = NULL;
	for (int i = k; i < k + n; i++) {
		const struct frozen_linear *b = &ws->lin[i];
		size_t off = (size_t)v->OC * a->C;
		if (b->C != a->C || b->OC <= 0)
			return 0;
		if (q ? !nf4_follows(a, b, off) : !b->w || b->w != a->w + off)
			return 0;
		v->OC += b->OC;
	}
	return 1;
}

/* mid = dropout(u) A^T: a LoRA branch's first product, which its backward needs. */
static void lora_mid(float *mid, const float *u, const struct frozen_linear *lin,
                     const struct lora_pair *lo, int T, struct llama_train_ws *ws, int l, int k)
{
	const struct qt_backend *be = ws->be;
	const struct llama_train_dropout *d = drop_of(ws);
	const float *ua = u;
	if (d) {
		be->dropout_forward(ws->ubuf, u, (size_t)T * lin->C, d->p, dropout_scale(d->p),
		                    drop_seed(d, l, k));
		ua = ws->ubuf;
	}
	be->linear_forward(mid, ua, lo->A, NULL, T, lin->C, lo->r, 1.0f, 0.0f);
}

/* out += s (dropout(u) A^T) B^T, saving dropout(u) A^T in mid; have_mid: mid already holds
 * u A^T (a group's A product), only the B product is left. */
static void lora_fwd(float *out, const float *u, const struct frozen_linear *lin,
                     const struct lora_pair *lo, float *mid, int have_mid, int T,
                     struct llama_train_ws *ws, int l, int k)
{
	if (!have_mid)
		lora_mid(mid, u, lin, lo, T, ws, l, k);
	ws->be->linear_forward(out, mid, lo->B, NULL, T, lo->r, lin->OC, lo->scaling, 1.0f);
}

/* out = beta*out + u W^T + bias (+ s (dropout(u) A^T) B^T, saving dropout(u) A^T in mid). */
static void lin_fwd(float *out, const float *u, const struct frozen_linear *lin,
                    const struct lora_pair *lo, float *mid, int T, float beta,
                    struct llama_train_ws *ws, int l, int k)
{
	ws->be->frozen_train(out, u, lin, T, beta, ws->wbuf);
	if (lo)
		lora_fwd(out, u, lin, lo, mid, 0, T, ws, l, k);
}

/*
 * The modules k .. k + n - 1 (q, k, v or gate, up) of one input u into outs, as lin_fwd each
 * with beta 0, with fewer GEMMs: the frozen products as one over their concatenated weight
 * (fused_view) split into outs, and without dropout the LoRA A products as one over their A
 * copied one after another (small), split into each module's mid. Fewer, wider GEMMs pack
 * their operands fewer times: on one AVX2 thread at T 512 (SmolLM2), gate and up 24.8 -> 22.2
 * ms, the three A products 0.50 -> 0.37 ms, q, k, v about even. Not bit for bit lin_fwd's: OpenBLAS's AVX2 kernels sum an element
 * in an order that depends on its column within the call (about 3% of the elements of q
 * differ, by up to 1e-5 relative); the same at any thread count (kernels/gemm.h).
 */
static void group_fwd(float *const *outs, const float *u, const struct lora_table *lora,
                      struct layer_acts *a, int k0, int n, int T, struct llama_train_ws *ws,
                      int l)
{
	const struct qt_backend *be = ws->be;
	const struct lora_pair *lo[3];
	struct frozen_linear f;
	int w[3], cnt = 0;
	if (fused_view(ws, k0, n, &f)) {
		be->frozen_train(ws->fz, u, &f, T, 0.0f, ws->wbuf);
		for (int i = 0; i < n; i++)
			w[i] = ws->lin[k0 + i].OC;
		be->columns_split(outs, ws->fz, T, w, n);
		for (int i = 0; i < n; i++)
			if (ws->lin[k0 + i].bias)
				be->bias_forward(outs[i], ws->lin[k0 + i].bias, T, w[i]);
	} else {
		for (int i = 0; i < n; i++)
			be->frozen_train(outs[i], u, &ws->lin[k0 + i], T, 0.0f, ws->wbuf);
	}
	float *mids[3];
	size_t R = 0, C = (size_t)ws->lin[k0].C;
	for (int i = 0; i < n; i++)
		if ((lo[i] = lora_at(lora, l, k0 + i))) {
			w[cnt] = lo[i]->r;
			mids[cnt++] = a->mid[k0 + i];
		}
	int fa = cnt > 1 && !drop_of(ws);
	if (fa) {
		for (int i = 0; i < n; i++)
			if (lo[i]) {
				be->copy(ws->acat + R * C, lo[i]->A, (size_t)lo[i]->r * C * sizeof(float));
				R += (size_t)lo[i]->r;
			}
		be->linear_forward(ws->mcat, u, ws->acat, NULL, T, (int)C, (int)R, 1.0f, 0.0f);
		be->columns_split(mids, ws->mcat, T, w, cnt);
	}
	for (int i = 0; i < n; i++)
		if (lo[i])
			lora_fwd(outs[i], u, &ws->lin[k0 + i], lo[i], a->mid[k0 + i], fa, T, ws, l, k0 + i);
}

/* du += G W (+ LoRA path); dA, dB += their gradients. The dropout mask is regenerated from
 * its counter seed. (One GEMM over q, k, v's or gate, up's joined gradients, as in the
 * forward, measured no faster: the join costs what the wider product saves.) */
static void lin_bwd(float *du, const float *G, const float *u, const struct frozen_linear *lin,
                    const struct lora_pair *lo, struct lora_pair *g, const float *mid,
                    int T, struct llama_train_ws *ws, int l, int k)
{
	const struct qt_backend *be = ws->be;
	be->frozen_train_backward_x(du, G, lin, T, ws->wbuf);
	if (lo && g) {
		const struct llama_train_dropout *d = drop_of(ws);
		float *dmid = ws->dmid;
		be->linear_backward_w(g->B, NULL, G, mid, T, lo->r, lin->OC, lo->scaling);
		be->zero(dmid, (size_t)T * lo->r * sizeof(float));
		be->linear_backward_x(dmid, G, lo->B, T, lo->r, lin->OC, lo->scaling);
		if (!d) {
			be->linear_backward_w(g->A, NULL, dmid, u, T, lin->C, lo->r, 1.0f);
			be->linear_backward_x(du, dmid, lo->A, T, lin->C, lo->r, 1.0f);
			return;
		}
		size_t n = (size_t)T * lin->C;
		float sc = dropout_scale(d->p);
		uint64_t seed = drop_seed(d, l, k);
		be->dropout_forward(ws->ubuf, u, n, d->p, sc, seed);
		be->linear_backward_w(g->A, NULL, dmid, ws->ubuf, T, lin->C, lo->r, 1.0f);
		be->zero(ws->ubuf, n * sizeof(float));
		be->linear_backward_x(ws->ubuf, dmid, lo->A, T, lin->C, lo->r, 1.0f);
		be->dropout_backward(du, ws->ubuf, n, d->p, sc, seed);
	}
}

#define FWD(out, u, k, beta) \
	lin_fwd(out, u, &ws->lin[k], lora_at(lora, l, k), a->mid[k], T, beta, ws, l, k)

/* Layer l's attention over its roped q, k, v and the o projection into a->xmid (the residual
 * stream after attention). */
static void attention_and_o(const struct llama_model *m, const struct lora_table *lora, int l,
                            struct llama_train_ws *ws, struct layer_acts *a, const float *xin,
                            const int32_t *seg, int T)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L = &m->layers[l];
	const struct qt_backend *be = ws->be;
	struct attn_opts ao = llama_attn(c, l);
	be->attention_forward(a->att, a->lse, a->q, a->k, a->v, seg, &ao, 1, T, c->NH, c->NKV, c->HD,
	                       m->n_threads);
	int P = lora_prefix_len(lora);
	size_t kvd = (size_t)c->NKV * c->HD, ps = (size_t)c->n_layer * 2 * kvd;
	if (P)
		be->attention_prefix_forward(a->att, a->lse, a->q, lora->prefix + 2 * l * kvd,
		                         lora->prefix + (2 * l + 1) * kvd, ps, ws->dpos, &ao, T, c->NH,
		                         c->NKV, c->HD, P);
	be->copy(a->xmid, xin, (size_t)T * c->C * sizeof(float));
	if (L->post_attn_norm) {
		FWD(a->ao, a->att, LLAMA_O, 0);
		be->rmsnorm_forward(ws->br, a->rstdao, a->ao, L->post_attn_norm, T, c->C, c->eps,
		                    m->n_threads);
		be->residual_add(a->xmid, ws->br, (size_t)T * c->C);
	} else {
		FWD(a->xmid, a->att, LLAMA_O, 1);
	}
}

/* Layer l's down projection of a->h added to a->xmid into xout. */
static void down_residual(const struct llama_model *m, const struct lora_table *lora, int l,
                          struct llama_train_ws *ws, struct layer_acts *a, float *xout, int T)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L = &m->layers[l];
	const struct qt_backend *be = ws->be;
	be->copy(xout, a->xmid, (size_t)T * c->C * sizeof(float));
	if (L->post_mlp_norm) {
		FWD(a->mo, a->h, LLAMA_DOWN, 0);
		be->rmsnorm_forward(ws->br, a->rstdmo, a->mo, L->post_mlp_norm, T, c->C, c->eps,
		                    m->n_threads);
		be->residual_add(xout, ws->br, (size_t)T * c->C);
	} else {
		FWD(xout, a->h, LLAMA_DOWN, 1);
	}
}

/* Module k's LoRA branch's first product (from input u) when the layer has one: what a
 * recompute that skips the module's output still owes its backward. */
static void mid_only(const struct lora_table *lora, int l, int k, const float *u,
                     struct llama_train_ws *ws, struct layer_acts *a, int T)
{
	const struct lora_pair *lo = lora_at(lora, l, k);
	if (lo)
		lora_mid(a->mid[k], u, &ws->lin[k], lo, T, ws, l, k);
}

/* How layer_forward runs: the forward pass; the backward pass's recompute, which needs no
 * xout (the layer's output is the next one's kept input), so skips the down projection's
 * frozen product when nothing else needs it (no sandwich norm after it); the same for a
 * layer whose saved_act fields its forward kept, which also skips what only led to those:
 * attention and the o projection's frozen product. */
enum fwd_mode { FWD_PASS, FWD_REDO, FWD_REDO_KEPT_ATTN };

/* Forward of layer l from xin to xout (FWD_PASS), keeping what its backward needs in a; a
 * recompute makes the same numbers again. */
static void layer_forward(const struct llama_model *m, const struct lora_table *lora, int l,
                          struct llama_train_ws *ws, struct layer_acts *a, const float *xin,
                          float *xout, const int32_t *seg, int T, enum fwd_mode mode)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L = &m->layers[l];
	const struct qt_backend *be = ws->be;
	int th = m->n_threads;
	layer_weights(m, ws, l);
	be->rmsnorm_forward(a->xn1, a->rstd1, xin, L->attn_norm, T, c->C, c->eps, th);
	float *qd = L->q_norm ? a->qp : a->q, *kd = L->q_norm ? a->kp : a->k;
	if (c->fused & LORA_FUSED_QKV) {
		FWD(ws->fz, a->xn1, LLAMA_Q, 0);
		int w[3] = { c->NH * c->HD, c->NKV * c->HD, c->NKV * c->HD };
		be->columns_split((float *const[]){ qd, kd, a->v }, ws->fz, T, w, 3);
	} else {
		group_fwd((float *const[]){ qd, kd, a->v }, a->xn1, lora, a, LLAMA_Q, 3, T, ws, l);
	}
	if (L->q_norm) {
		be->rmsnorm_forward(a->q, a->rstdq, a->qp, L->q_norm, T * c->NH, c->HD, c->eps, th);
		be->rmsnorm_forward(a->k, a->rstdk, a->kp, L->k_norm, T * c->NKV, c->HD, c->eps, th);
	}
	be->rope_forward_part(a->q, a->q, ws->cos_t, ws->sin_t, T, c->NH, c->HD, llama_rot(c),
	                  c->rope_interleaved);
	be->rope_forward_part(a->k, a->k, ws->cos_t, ws->sin_t, T, c->NKV, c->HD, llama_rot(c),
	                  c->rope_interleaved);
	if (mode == FWD_REDO_KEPT_ATTN)
		mid_only(lora, l, LLAMA_O, a->att, ws, a, T);
	else
		attention_and_o(m, lora, l, ws, a, xin, seg, T);
	be->rmsnorm_forward(a->xn2, a->rstd2, a->xmid, L->mlp_norm, T, c->C, c->eps, th);
	if (c->fused & LORA_FUSED_GATE_UP) {
		FWD(ws->fz, a->xn2, LLAMA_GATE, 0);
		be->columns_split((float *const[]){ a->gate, a->up }, ws->fz, T, (int[]){ c->H, c->H }, 2);
	} else {
		group_fwd((float *const[]){ a->gate, a->up }, a->xn2, lora, a, LLAMA_GATE, 2, T, ws, l);
	}
	if (c->act == LLAMA_ACT_GELU_TANH)
		be->geglu_forward(a->h, a->gate, a->up, (size_t)T * c->H);
	else
		be->swiglu_forward(a->h, a->gate, a->up, (size_t)T * c->H);
	if (mode == FWD_REDO_KEPT_ATTN || (mode == FWD_REDO && !L->post_mlp_norm))
		mid_only(lora, l, LLAMA_DOWN, a->h, ws, a, T);
	else
		down_residual(m, lora, l, ws, a, xout, T);
}
#undef FWD

/* ws->dx holds dL/d(layer output); on return it holds dL/d(layer input). */
static void layer_backward(const struct llama_model *m, const struct lora_table *lora,
                           struct lora_table *grad, int l, struct llama_train_ws *ws,
                           const struct layer_acts *a, const float *xin, const int32_t *seg,
                           int T)
{
	const struct llama_config *c = &m->cfg;
	const struct llama_layer *L = &m->layers[l];
	const struct qt_backend *be = ws->be;
	size_t TC = (size_t)T * c->C, TH = (size_t)T * c->H;
	size_t TQ = (size_t)T * c->NH * c->HD, TK = (size_t)T * c->NKV * c->HD;
#define BWD(du, G, u, k) lin_bwd(du, G, u, &ws->lin[k], lora_at(lora, l, k), \
                                lora_at(lora, l, k) && grad ? lora_table_at(grad, l, k) : NULL, \
                                a->mid[k], T, ws, l, k)
	layer_weights(m, ws, l);
	/* MLP: x_out = x_mid + [norm] down(act(gate(xn2), up(xn2))); dxn is free until the
	 * gate and up gradients, so it holds the gradient of down's output under a norm */
	const float *dmo = ws->dx;
	if (L->post_mlp_norm) {
		be->zero(ws->dxn, TC * sizeof(float));
		be->rmsnorm_backward(ws->dxn, ws->dx, a->mo, L->post_mlp_norm, a->rstdmo, T, c->C);
		dmo = ws->dxn;
	}
	be->zero(ws->dh, TH * sizeof(float));
	BWD(ws->dh, dmo, a->h, LLAMA_DOWN);
	be->zero(ws->dgate, TH * sizeof(float));
	be->zero(ws->dup, TH * sizeof(float));
	if (c->act == LLAMA_ACT_GELU_TANH)
		be->geglu_backward(ws->dgate, ws->dup, ws->dh, a->gate, a->up, TH);
	else
		be->swiglu_backward(ws->dgate, ws->dup, ws->dh, a->gate, a->up, TH);
	be->zero(ws->dxn, TC * sizeof(float));
	if (c->fused & LORA_FUSED_GATE_UP) {
		be->columns_join(ws->fz, (const float *const[]){ ws->dgate, ws->dup }, T,
		             (int[]){ c->H, c->H }, 2);
		BWD(ws->dxn, ws->fz, a->xn2, LLAMA_GATE);
	} else {
		BWD(ws->dxn, ws->dgate, a->xn2, LLAMA_GATE);
		BWD(ws->dxn, ws->dup, a->xn2, LLAMA_UP);
	}
	be->rmsnorm_backward(ws->dx, ws->dxn, a->xmid, L->mlp_norm, a->rstd2, T, c->C);
	/* Attention: x_mid = x_in + [norm] o(attn(rope(q), rope(k), v)) */
	const float *dao = ws->dx;
	if (L->post_attn_norm) {
		be->zero(ws->dxn, TC * sizeof(float));
		be->rmsnorm_backward(ws->dxn, ws->dx, a->ao, L->post_attn_norm, a->rstdao, T, c->C);
		dao = ws->dxn;
	}
	be->zero(ws->datt, TQ * sizeof(float));
	BWD(ws->datt, dao, a->att, LLAMA_O);
	be->zero(ws->dq, TQ * sizeof(float));
	be->zero(ws->dk, TK * sizeof(float));
	be->zero(ws->dv, TK * sizeof(float));
	struct attn_opts ao = llama_attn(c, l);
	be->attention_backward(ws->dq, ws->dk, ws->dv, ws->datt, a->q, a->k, a->v, a->att, a->lse,
	                        seg, &ao, 1, T, c->NH, c->NKV, c->HD, m->n_threads);
	int P = lora_prefix_len(lora);
	if (P && grad && grad->prefix) {
		size_t kvd = (size_t)c->NKV * c->HD, ps = (size_t)c->n_layer * 2 * kvd;
		be->attention_prefix_backward(ws->dq, grad->prefix + 2 * l * kvd,
		                          grad->prefix + (2 * l + 1) * kvd, ws->datt, a->q,
		                          lora->prefix + 2 * l * kvd, lora->prefix + (2 * l + 1) * kvd,
		                          ps, a->att, a->lse, ws->dpos, &ao, T, c->NH, c->NKV, c->HD, P);
	}
	be->rope_backward_part(ws->dq, ws->dq, ws->cos_t, ws->sin_t, T, c->NH, c->HD, llama_rot(c),
	                   c->rope_interleaved);
	be->rope_backward_part(ws->dk, ws->dk, ws->cos_t, ws->sin_t, T, c->NKV, c->HD, llama_rot(c),
	                   c->rope_interleaved);
	const float *dqp = ws->dq, *dkp = ws->dk;
	if (L->q_norm) {
		be->zero(ws->dqp, TQ * sizeof(float));
		be->zero(ws->dkp, TK * sizeof(float));
		be->rmsnorm_backward(ws->dqp, ws->dq, a->qp, L->q_norm, a->rstdq, T * c->NH, c->HD);
		be->rmsnorm_backward(ws->dkp, ws->dk, a->kp, L->k_norm, a->rstdk, T * c->NKV, c->HD);
		dqp = ws->dqp;
		dkp = ws->dkp;
	}
	be->zero(ws->dxn, TC * sizeof(float));
	if (c->fused & LORA_FUSED_QKV) {
		int w[3] = { c->NH * c->HD, c->NKV * c->HD, c->NKV * c->HD };
		be->columns_join(ws->fz, (const float *const[]){ dqp, dkp, ws->dv }, T, w, 3);
		BWD(ws->dxn, ws->fz, a->xn1, LLAMA_Q);
	} else {
		BWD(ws->dxn, dqp, a->xn1, LLAMA_Q);
		BWD(ws->dxn, dkp, a->xn1, LLAMA_K);
		BWD(ws->dxn, ws->dv, a->xn1, LLAMA_V);
	}
	be->rmsnorm_backward(ws->dx, ws->dxn, xin, L->attn_norm, a->rstd1, T, c->C);
#undef BWD
}

int llama_train_block(const struct llama_model *m, const struct lora_table *lora,
                      struct lora_table *grad, struct llama_train_ws *ws, const int32_t *ids,
                      const int32_t *pos, const int32_t *seg, const int32_t *targets, int T,
                      float grad_scale, float neftune_mag, uint64_t neftune_seed,
                      const struct llama_train_dropout *drop, double *loss_sum,
                      struct qt_err *err)
{
	const struct llama_config *c = &m->cfg;
	const struct qt_backend *be = ws->be;
	if (T > ws->T)
		return qt_err_set(err, QT_ESOFTWARE, "block of %d tokens exceeds the workspace (%d)",
		                  T, ws->T);
	size_t TC = (size_t)T * c->C, half = (size_t)c->HD / 2, ti = (size_t)T * sizeof(int32_t);
	/* prefix tuning: positions after the prefix, unless they start at 0 */
	int P = lora_prefix_len(lora), shift = P && !lora->prefix_pos0 ? P : 0;
	for (int t = 0; t < T; t++)
		ws->rpos[t] = pos[t] + shift;
	/* the RoPE table is made on the host whatever the backend (the same numbers) */
	rope_table(ws->cos_h, ws->sin_h, ws->rpos, m->inv_freq, T, llama_rot(c));
	if (be->upload(ws->ids, ids, ti) || be->upload(ws->dpos, pos, ti) ||
	    be->upload(ws->tg, targets, ti) || (seg && be->upload(ws->seg, seg, ti)) ||
	    be->upload(ws->cos_t, ws->cos_h, (size_t)T * half * sizeof(float)) ||
	    be->upload(ws->sin_t, ws->sin_h, (size_t)T * half * sizeof(float)))
		return fail(be, "uploading the block", err);
	const int32_t *dseg = seg ? ws->seg : NULL;
	float *x0 = ws->xin;
	if (m->embed)
		be->embedding_forward(x0, ws->ids, m->embed, T, c->C, c->V);
	else
		be->embedding_forward_bf16(x0, ws->ids, m->embed_b, T, c->C, c->V);
	if (c->embed_scale)
		be->embedding_scale(x0, TC, c->embed_scale);
	if (neftune_mag > 0)
		be->neftune_forward(x0, TC, neftune_mag, neftune_seed);
	ws->drop = grad && drop && drop->p > 0 ? drop : NULL; /* training only */
	for (int l = 0; l < c->n_layer; l++)
		layer_forward(m, lora, l, ws, &ws->acts[l], ws->xin + (size_t)l * TC,
		              ws->xin + (size_t)(l + 1) * TC, dseg, T, FWD_PASS);
	const float *xlast = ws->xin + (size_t)c->n_layer * TC;
	be->rmsnorm_forward(ws->xf, ws->rstdf, xlast, m->final_norm, T, c->C, c->eps, m->n_threads);
	be->zero(ws->dxn, TC * sizeof(float));
	ws->hits = -2;
	if (!grad && be->lm_head_eval && (m->lm_head.w || m->lm_head.wb))
		ws->hits = be->lm_head_eval(ws->losses, ws->xf, m->lm_head.w, m->lm_head.wb, ws->tg, T,
		                            c->C, c->V, c->final_softcap, ws->lm_scratch, LM_CHUNK);
	else if (m->lm_head.w)
		be->lm_head_ce(ws->losses, grad ? ws->dxn : NULL, ws->xf, m->lm_head.w, ws->tg, T, c->C,
		               c->V, grad_scale, c->final_softcap, ws->lm_scratch, LM_CHUNK);
	else
		be->lm_head_ce_bf16(ws->losses, grad ? ws->dxn : NULL, ws->xf, m->lm_head.wb, ws->tg, T,
		                    c->C, c->V, grad_scale, c->final_softcap, ws->lm_scratch, LM_CHUNK);
	if (be->download(ws->losses_h, ws->losses, (size_t)T * sizeof(float)) != 0) {
		ws->drop = NULL;
		return fail(be, "forward", err);
	}
	double s = 0;
	for (int t = 0; t < T; t++)
		s += ws->losses_h[t];
	*loss_sum += s;
	if (grad) {
		be->zero(ws->dx, TC * sizeof(float));
		be->rmsnorm_backward(ws->dx, ws->dxn, xlast, m->final_norm, ws->rstdf, T, c->C);
		for (int l = c->n_layer - 1; l >= 0; l--) {
			const float *xin = ws->xin + (size_t)l * TC;
			struct layer_acts *a = &ws->acts[l];
			/* A layer whose activations were not kept is recomputed (the same dropout
			 * masks: they are counter-based), then gone back through. */
			if (l < ws->first_kept)
				layer_forward(m, lora, l, ws, a, xin, ws->xf, dseg, T,
				              ws->keep_attn ? FWD_REDO_KEPT_ATTN : FWD_REDO);
			layer_backward(m, lora, grad, l, ws, a, xin, dseg, T);
		}
	}
	ws->drop = NULL;
	return be->sync() == 0 ? QT_OK : fail(be, "training block", err);
}

long llama_train_correct(const struct llama_model *m, const struct llama_train_ws *ws,
                         int T)
{
	const struct llama_config *c = &m->cfg;
	if (ws->hits >= 0) /* counted with the losses */
		return ws->hits;
	if (!m->lm_head.w)
		return ws->be->lm_head_correct_bf16 ?
		       ws->be->lm_head_correct_bf16(ws->xf, m->lm_head.wb, ws->tg, T, c->C, c->V,
		                                    c->final_softcap, ws->lm_scratch, LM_CHUNK) : -1;
	if (!ws->be->lm_head_correct)
		return -1;
	return ws->be->lm_head_correct(ws->xf, m->lm_head.w, ws->tg, T, c->C, c->V,
	                               c->final_softcap, ws->lm_scratch, LM_CHUNK);
}
