/* qlora-tools: ISC license. */
/*
 * GeGLU gate of the Gemma MLP: out = gelu_tanh(gate) * up, with PyTorch's tanh approximation
 * (transformers' "gelu_pytorch_tanh", nn.functional.gelu(approximate="tanh")):
 *   gelu_tanh(x) = 0.5 x (1 + tanh(b (x + k x^3))), b = sqrt(2 / pi), k = 0.044715,
 * in float32 as ATen's CPU kernel writes it. See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_GEGLU_H
#define QT_KERNELS_GEGLU_H

#include "kernels/kernels.h"

/* out, gate, up: (T, H) as N = T * H elements; out may alias gate or up. */
void geglu_forward(float *out, const float *gate, const float *up, size_t N);

/* dgate, dup: (T, H) +=; dout, gate, up: (T, H) as N elements.
 *   dup += dout * gelu_tanh(gate);  dgate += dout * up * gelu_tanh'(gate), with
 *   gelu_tanh'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) b (1 + 3 k x^2), t = tanh(b (x + k x^3)) */
void geglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                    const float *up, size_t N);

#endif
