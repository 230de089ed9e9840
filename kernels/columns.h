/* qlora-tools: ISC license. */
/*
 * Column blocks of row-major matrices: a fused projection's output (T, w0 + w1 + ...) split
 * into its parts (Phi-3's qkv_proj into q, k and v; gate_up_proj into gate and up), and the
 * parts' gradients joined back. See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_COLUMNS_H
#define QT_KERNELS_COLUMNS_H

#include "kernels/kernels.h"

/* src: (T, sum w); dst[i]: (T, w[i]) written. */
void columns_split(float *const *dst, const float *src, int T, const int *w, int n);

/* dst: (T, sum w) written; src[i]: (T, w[i]). */
void columns_join(float *dst, const float *const *src, int T, const int *w, int n);

#endif
