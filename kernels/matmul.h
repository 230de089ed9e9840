/* qlora-tools: ISC license. */
/*
 * Linear layer in the HF/PyTorch convention: W is (OC, C) row-major (out_features,
 * in_features, as safetensors stores it) and
 *   out = beta * out + alpha * (x @ W^T) + bias
 * alpha/beta let LoRA add its scaled branch into the base output (beta = 1, alpha = scaling)
 * without a temporary; beta = 0 ignores out's old contents (NaN-safe). Backward to the input
 * (frozen or not) and to a trainable weight (LoRA A and B). See kernels/kernels.h.
 * *_fast variants go through OpenBLAS cblas_sgemm and are tested against the loops.
 */
#ifndef QT_KERNELS_MATMUL_H
#define QT_KERNELS_MATMUL_H

#include "kernels/kernels.h"

/* out: (T, OC); x: (T, C); W: (OC, C); bias: (OC) or NULL. */
void linear_forward(float *out, const float *x, const float *W, const float *bias, int T, int C,
                    int OC, float alpha, float beta);
void linear_forward_fast(float *out, const float *x, const float *W, const float *bias, int T,
                         int C, int OC, float alpha, float beta);

/* out: (T, OC) += bias (OC) on every row: the bias of a linear layer whose product was computed
 * by another op (matvec, NF4). */
void bias_forward(float *out, const float *bias, int T, int OC);

/* dx: (T, C) +=; dout: (T, OC); W: (OC, C).   dx += alpha * dout @ W */
void linear_backward_x(float *dx, const float *dout, const float *W, int T, int C, int OC,
                       float alpha);
void linear_backward_x_fast(float *dx, const float *dout, const float *W, int T, int C, int OC,
                            float alpha);

/* dW: (OC, C) +=; dbias: (OC) += or NULL; dout: (T, OC); x: (T, C).
 *   dW += alpha * dout^T @ x;  dbias += sum_t dout[t] (the bias is not scaled by alpha in
 * the forward either) */
void linear_backward_w(float *dW, float *dbias, const float *dout, const float *x, int T, int C,
                       int OC, float alpha);
void linear_backward_w_fast(float *dW, float *dbias, const float *dout, const float *x, int T,
                            int C, int OC, float alpha);

#endif
