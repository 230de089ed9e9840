/* qlora-tools: ISC license. */
/*
 * RMSNorm as HF LlamaRMSNorm computes it in float32:
 *   rstd = 1 / sqrt(mean(x^2) + eps);  out = w * (x * rstd)
 * The weight is frozen in training (QLoRA), so the backward goes to x only.
 * See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_RMSNORM_H
#define QT_KERNELS_RMSNORM_H

#include "kernels/kernels.h"

/* x: (T, C); w: (C); out: (T, C) (may alias x); rstd: (T) saved for backward, or NULL.
 * The mean of squares is accumulated in double. */
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int T, int C,
                     float eps);
/* Same contract, rows spread over n_threads (<= 0: default) with common/pool.h. */
void rmsnorm_forward_fast(float *out, float *rstd, const float *x, const float *w, int T, int C,
                          float eps, int n_threads);

/* dx: (T, C) accumulated (+=); dout: (T, C); x: (T, C) the forward input; w: (C);
 * rstd: (T) from the forward.
 *   dx += rstd * w*dout - x * rstd^3 / C * sum_j(w_j dout_j x_j) */
void rmsnorm_backward(float *dx, const float *dout, const float *x, const float *w,
                      const float *rstd, int T, int C);

#endif
