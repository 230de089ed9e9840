/* qlora-tools: ISC license. */
/*
 * Dropout (LoRA dropout on the adapter input, torch.nn.Dropout semantics in training):
 *   out[i] = keep(i) ? x[i] * scale : 0,   keep(i) = u(seed, i) >= p,   scale = 1 / (1 - p)
 * with u uniform in [0, 1) from the project's counter-based generator: u = (1 +
 * neftune_uniform(seed, i)) / 2, 24 random bits, exact in float. The mask is a function of
 * (seed, i) alone, so the backward recomputes it instead of storing it, and CPU, CUDA, any
 * thread count and a resumed run agree bit for bit. Use a seed that NEFTune does not use.
 * See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_DROPOUT_H
#define QT_KERNELS_DROPOUT_H

#include "kernels/kernels.h"

/* Host: 1 / (1 - p) in double, rounded to float (p in [0, 1)). */
float dropout_scale(double p);

/* out, x: (n); out may alias x. p = 0 copies x (scale must then be 1). */
void dropout_forward(float *out, const float *x, size_t n, float p, float scale, uint64_t seed);

/* dx: (n) +=; dout: (n).  dx += keep(i) ? dout * scale : 0 (same seed, p, scale as forward). */
void dropout_backward(float *dx, const float *dout, size_t n, float p, float scale,
                      uint64_t seed);

/* Elements [lo, hi) of the two above (the arrays indexed as there, from 0): the CPU backend
 * splits them over its threads (kernels/cpu/threaded.c). */
void dropout_forward_span(float *out, const float *x, size_t lo, size_t hi, float p,
                          float scale, uint64_t seed);
void dropout_backward_span(float *dx, const float *dout, size_t lo, size_t hi, float p,
                           float scale, uint64_t seed);

#endif
