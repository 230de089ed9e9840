/* qlora-tools: ISC license. */
/*
 * Rotary position embedding, HF convention (rotate_half, not interleaved):
 *   q'[j]      = q[j]      * cos(p * f_j) - q[j + HD/2] * sin(p * f_j)
 *   q'[j+HD/2] = q[j+HD/2] * cos(p * f_j) + q[j]        * sin(p * f_j)      j in [0, HD/2)
 * with p the token's position id (per token, so packed samples restart at 0) and f = inv_freq.
 *
 * Three steps, split so both backends get identical inputs:
 *   rope_inv_freq (host, kernels/rope_host.c): inv_freq from theta and rope_scaling, computed in
 *     float32 exactly as transformers' _compute_default_rope_parameters,
 *     _compute_linear_scaling_rope_parameters and _compute_llama3_parameters do;
 *   rope_table: cos/sin per token, float32 as LlamaRotaryEmbedding.forward (once per forward);
 *   rope_forward / rope_backward on q (T, NH, HD) and k (T, NKV, HD).
 * The rope types here all have attention_factor 1 (cos and sin are not rescaled).
 * See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_ROPE_H
#define QT_KERNELS_ROPE_H

#include "kernels/kernels.h"

enum rope_type { ROPE_DEFAULT = 0, ROPE_LINEAR = 1, ROPE_LLAMA3 = 2 };

struct rope_scaling {
	enum rope_type type;
	double factor;                 /* linear, llama3 */
	double low_freq_factor;        /* llama3 */
	double high_freq_factor;       /* llama3 */
	double original_max_position;  /* llama3: original_max_position_embeddings */
};

/* inv_freq: (HD/2) written; HD even; scaling NULL means the default type. */
void rope_inv_freq(float *inv_freq, int HD, double theta, const struct rope_scaling *scaling);

/* cos, sin: (T, HD/2) written; pos: (T) position ids; inv_freq: (HD/2).
 * angle = (float)pos * inv_freq in float32, then cosf/sinf. */
void rope_table(float *cos_t, float *sin_t, const int32_t *pos, const float *inv_freq, int T,
                int HD);

/* x, out: (T, NH, HD) (out may alias x); cos, sin: (T, HD/2) from rope_table.
 * NH is the number of heads in x (NH for q, NKV for k). */
void rope_forward(float *out, const float *x, const float *cos_t, const float *sin_t, int T,
                  int NH, int HD);

/* dx, dout: (T, NH, HD); dx is WRITTEN, not accumulated (the rotation by -angle), and may
 * alias dout so the gradient can be rotated in place. */
void rope_backward(float *dx, const float *dout, const float *cos_t, const float *sin_t, int T,
                   int NH, int HD);

/*
 * Partial and interleaved rotation (transformers' Phi-3 with partial_rotary_factor < 1, GLM):
 * only the first rot (even, <= HD) dims of each head rotate, the others pass through; pairs
 * are (j, j + rot/2) (rotate_half) or, interleaved, (2j, 2j + 1) (GLM's rotate_half of
 * x[..., 0::2] and x[..., 1::2]), both at angle p * inv_freq[j] with inv_freq of rot / 2
 * entries (rope_inv_freq(inv_freq, rot, ...)) and cos, sin: (T, rot/2) (rope_table with rot).
 * rope_forward and rope_backward are these with rot = HD, not interleaved.
 */
void rope_forward_part(float *out, const float *x, const float *cos_t, const float *sin_t, int T,
                       int NH, int HD, int rot, int interleaved);
void rope_backward_part(float *dx, const float *dout, const float *cos_t, const float *sin_t,
                        int T, int NH, int HD, int rot, int interleaved);

#endif
