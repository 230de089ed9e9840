/* qlora-tools: ISC license. */
/*
 * Token embedding gather (frozen table: no backward) and NEFTune noise on its output in
 * training (reference 7.7): x += U(-mag, mag) elementwise, mag = alpha / sqrt(L * C) with L
 * the padded/packed length of the batch row and C the width (host: neftune_magnitude).
 * The noise is counter-based: element i of a call with seed s gets a value that depends only
 * on (s, i), so CPU and CUDA, any thread count, and a resumed run produce the same noise.
 * See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_EMBEDDING_H
#define QT_KERNELS_EMBEDDING_H

#include "kernels/kernels.h"

/* out: (T, C); ids: (T); table: (V, C). Ids outside [0, V) give a zero row (the caller
 * validates ids; this only keeps a bad id from reading out of bounds). */
void embedding_forward(float *out, const int32_t *ids, const float *table, int T, int C, int V);
/* The same from a table of bf16 bits (exactly the f32 table's values). CPU only. */
void embedding_forward_bf16(float *out, const int32_t *ids, const uint16_t *table, int T, int C,
                            int V);

/* x: (n) *= s: Gemma's embedding normalizer (sqrt(hidden_size) as a float32), applied to the
 * gathered rows before NEFTune's noise, which transformers adds to the embedding module's
 * output. */
void embedding_scale(float *x, size_t n, float s);

/* Host: alpha / sqrt(L * C) in double, rounded to float. */
float neftune_magnitude(double alpha, long L, long C);

/* Uniform value in [-1, 1) for counter i under seed (splitmix64 of seed ^ f(i), 24 bits). */
float neftune_uniform(uint64_t seed, uint64_t i);

/* x: (n) += mag * neftune_uniform(seed, i) for i in [0, n). Use a fresh seed per micro-batch
 * (e.g. derived from the run seed and the step). */
void neftune_forward(float *x, size_t n, float mag, uint64_t seed);

#endif
