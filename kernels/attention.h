/* qlora-tools: ISC license. */
/*
 * Causal grouped-query self-attention with per-token segment ids, as transformers'
 * eager_attention_forward with an additive mask:
 *   query t of head h sees key j iff j <= t and seg[j] == seg[t] and, with a sliding window
 *   W > 0 (Mistral, Qwen2, Gemma-2 layers), t - j < W (masking_utils' sliding_window_overlay);
 *   kv head = h / (NH / NKV);
 *   s = (q . k) * scale (float32; scale HD^-0.5 unless the family sets it), with a soft cap
 *   c > 0 (Gemma-2's attn_logit_softcapping) s = tanh(s / c) * c, softmax in float32,
 *   out = P v.
 * Segments let packed samples share a row without seeing each other (positions restart per
 * segment through rope). seg NULL means one segment per sequence. Every query sees at least
 * itself, so no row is empty. See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_ATTENTION_H
#define QT_KERNELS_ATTENTION_H

#include <math.h>

#include "kernels/kernels.h"

/* What a layer's attention does beyond causality and segments; a NULL pointer means all 0. */
struct attn_opts {
	int   window;  /* sliding window in tokens; 0: none */
	float scale;   /* factor of q . k; 0: HD^-0.5 (Gemma-2: query_pre_attn_scalar^-0.5) */
	float softcap; /* c > 0: scores become tanh(s / c) * c before the mask; 0: none */
};

static inline int attn_window(const struct attn_opts *o)
{
	return o ? o->window : 0;
}

static inline float attn_scale(const struct attn_opts *o, int HD)
{
	return o && o->scale > 0 ? o->scale : (float)pow(HD, -0.5);
}

/* The soft cap as transformers' eager attention applies it (divide, tanh, multiply). */
static inline float attn_softcap(float s, float c)
{
	return c > 0 ? tanhf(s / c) * c : s;
}

/* The first key query t sees under a window of W tokens (0: no window): max(0, t - W + 1). */
int window_start(int t, int window);

/* out: (B, T, NH, HD); lse: (B, NH, T) log-sum-exp of each row's scaled (and capped) scores,
 * saved for the backward (may be NULL); q: (B, T, NH, HD); k, v: (B, T, NKV, HD);
 * seg: (B, T) or NULL; opt: window, scale and soft cap, or NULL. */
void attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                       const int32_t *seg, const struct attn_opts *opt, int B, int T, int NH,
                       int NKV, int HD);
/* Same contract; per (batch row, head, block of 128 queries), one common/pool.h task each:
 * S = Q K^T and O = P V through SGEMM, softmax rows between. Allocates two (128, T) blocks
 * per thread while it runs. The same bits at any thread count. */
void attention_forward_fast(float *out, float *lse, const float *q, const float *k,
                            const float *v, const int32_t *seg, const struct attn_opts *opt,
                            int B, int T, int NH, int NKV, int HD, int n_threads);

/* dq: (B, T, NH, HD) +=; dk, dv: (B, T, NKV, HD) +=; dout, out: (B, T, NH, HD) (out from the
 * forward); q, k, v, seg, opt as the forward; lse: (B, NH, T) from the forward. Under a soft cap
 * the score gradient is multiplied by 1 - tanh(s / c)^2. */
void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                        const float *k, const float *v, const float *out, const float *lse,
                        const int32_t *seg, const struct attn_opts *opt, int B, int T, int NH,
                        int NKV, int HD);
/* Same contract through SGEMM (P and dS recomputed per block), one task per (batch row,
 * head); each head's dk, dv sums go to a buffer of its own (at most 64 MiB of them at a time)
 * and are added in head order: the same bits at any thread count. */
void attention_backward_fast(float *dq, float *dk, float *dv, const float *dout, const float *q,
                             const float *k, const float *v, const float *out, const float *lse,
                             const int32_t *seg, const struct attn_opts *opt, int B, int T,
                             int NH, int NKV, int HD, int n_threads);

/*
 * Decode step over a KV cache (no segments: one sequence per batch row).
 * out, q: (B, TN, NH, HD) the TN new tokens; kc, vc: (B, L, NKV, HD) caches whose rows
 * [past[b], past[b] + TN) already hold the new tokens' k and v (after rope);
 * past: (B) tokens cached before this step. New token i of row b, at position
 * t = past[b] + i, sees cache rows [window_start(t, opt's window), t]. Requires
 * past[b] + TN <= L.
 */
void attention_decode(float *out, const float *q, const float *kc, const float *vc,
                      const int32_t *past, const struct attn_opts *opt, int B, int TN, int L,
                      int NH, int NKV, int HD);
/* Same contract, (b, h) pairs on common/pool.h threads. */
void attention_decode_fast(float *out, const float *q, const float *kc, const float *vc,
                           const int32_t *past, const struct attn_opts *opt, int B, int TN,
                           int L, int NH, int NKV, int HD, int n_threads);

/*
 * Prefix tuning (PEFT's PREFIX_TUNING, P-Tuning v2): P learned key/value slots per layer that
 * every query sees besides its own keys. They sit before the sequence, un-rotated: in cache
 * coordinates slot p is at p and a token at local position pos[t] (restarting per packed
 * segment) at P + pos[t], so a window W hides slot p from the token when
 * P + pos[t] - p >= W (transformers' sliding mask over a cache that holds the prefix).
 * pk, pv: slot p's (NKV, HD) keys at pk + p * ps (ps floats between slots; PEFT's layout
 * interleaves layers); q, out: (T, NH, HD) of one sequence; lse: (NH, T).
 *
 * attention_prefix_forward merges the prefix into out and lse as the attention over the
 * sequence's own keys left them (both required): afterwards they are those of the attention
 * over prefix and keys together. attention_backward(_fast) with that merged out and lse gives
 * the gradients through the sequence's keys; attention_prefix_backward adds those through the
 * prefix: dq +=, dpk and dpv += (same layout as pk, pv).
 */
void attention_prefix_forward(float *out, float *lse, const float *q, const float *pk,
                              const float *pv, size_t ps, const int32_t *pos,
                              const struct attn_opts *opt, int T, int NH, int NKV, int HD,
                              int P);
void attention_prefix_backward(float *dq, float *dpk, float *dpv, const float *dout,
                               const float *q, const float *pk, const float *pv, size_t ps,
                               const float *out, const float *lse, const int32_t *pos,
                               const struct attn_opts *opt, int T, int NH, int NKV, int HD,
                               int P);

#endif
