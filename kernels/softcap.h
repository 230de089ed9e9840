/* qlora-tools: ISC license. */
/*
 * Gemma-2's soft cap of the final logits: y = tanh(x / c) * c, as transformers writes it
 * (divide, tanh, multiply, float32), and a residual add for its sandwich norms. The attention
 * scores' cap is inside the attention ops (kernels/attention.h's attn_softcap).
 * See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_SOFTCAP_H
#define QT_KERNELS_SOFTCAP_H

#include "kernels/kernels.h"

/* y, x: N elements, y may alias x; c > 0. */
void softcap_forward(float *y, const float *x, size_t N, float c);

/* dx: N elements WRITTEN (may alias dy or y): dx = dy * (1 - (y / c)^2), y from the forward
 * (tanh(x / c) recovered as y / c). */
void softcap_backward(float *dx, const float *dy, const float *y, size_t N, float c);

/* x += y over N elements (the residual stream after a sandwich norm). */
void residual_add(float *x, const float *y, size_t N);

#endif
