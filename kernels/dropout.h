/* qlora-tools: ISC license. */
/*
 * LoRA dropout (reference.md 7.8: nn.Dropout on the adapter input only, training only) with a
 * counter-based mask: element i of a call with seed s is dropped iff dropout_uniform(s, i) < p
 * (24 random bits from a splitmix64 hash of (s, i)); kept elements are scaled by 1 / (1 - p)
 * (inverted dropout). The mask depends only on (seed, i), so the backward pass regenerates it
 * instead of storing it, and CPU, CUDA, any thread count and a resumed run agree. It does not
 * reproduce torch's Philox/mt19937 masks. See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_DROPOUT_H
#define QT_KERNELS_DROPOUT_H

#include "kernels/kernels.h"

/* Host: the seed of one LoRA branch's mask: a hash of the run seed, the optimizer step, the
 * micro-batch block within the step, the layer and the module. */
uint64_t dropout_seed(uint64_t run_seed, uint64_t step, uint64_t block, int layer, int module);

/* Host: 1 / (1 - p) in double, rounded to float. */
float dropout_scale(double p);

/* Uniform in [0, 1) for counter i under seed (multiples of 2^-24). */
float dropout_uniform(uint64_t seed, uint64_t i);

/* out, x: (n). out[i] = dropout_uniform(seed, i) < p ? 0 : x[i] * scale. */
void dropout_forward(float *out, const float *x, size_t n, float p, float scale, uint64_t seed);

/* dx, g: (n). dx[i] += (kept ? g[i] * scale : 0), the same mask as dropout_forward. */
void dropout_backward(float *dx, const float *g, size_t n, float p, float scale, uint64_t seed);

#endif
