/* qlora-tools: ISC license. */
/*
 * SwiGLU gate of the Llama MLP: out = silu(gate) * up, silu(x) = x / (1 + exp(-x)).
 * See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_SWIGLU_H
#define QT_KERNELS_SWIGLU_H

#include "kernels/kernels.h"

/* out, gate, up: (T, H) as N = T * H elements; out may alias gate or up. */
void swiglu_forward(float *out, const float *gate, const float *up, size_t N);

/* dgate, dup: (T, H) +=; dout, gate, up: (T, H) as N elements.
 *   dup += dout * silu(gate);  dgate += dout * up * s * (1 + gate * (1 - s)), s = sigmoid(gate) */
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                     const float *up, size_t N);

/* The same contracts through kernels/cpu/vexp.h's sigmoid (within a few ulp of the loops above,
 * which use libm's expf; the same bits at any thread count): the backend's. The sigmoids are
 * taken SWIGLU_FAST_CHUNK at a time and an element's may depend on its offset in its chunk:
 * split a call only at multiples of it. */
enum { SWIGLU_FAST_CHUNK = 512 };
void swiglu_forward_fast(float *out, const float *gate, const float *up, size_t N);
void swiglu_backward_fast(float *dgate, float *dup, const float *dout, const float *gate,
                          const float *up, size_t N);

#endif
