/* qlora-tools: ISC license. */
/*
 * AdamW step with torch semantics (torch.optim.AdamW, _single_tensor_adam with decoupled
 * weight decay; reference 7.2), and global gradient-norm clipping (clip_grad_norm_, 7.4).
 * Hyper-parameter arithmetic happens once on the host (adamw_hparams_init, grad_clip_coef in
 * kernels/adamw_host.c, in double then rounded to float as torch rounds Python scalars), so the CPU
 * and CUDA kernels receive identical float inputs. See kernels/kernels.h.
 */
#ifndef QT_KERNELS_ADAMW_H
#define QT_KERNELS_ADAMW_H

#include "kernels/kernels.h"

struct adamw_hparams {
	float decay;          /* 1 - lr * wd */
	float one_minus_b1;   /* lerp weight for m */
	float beta2, one_minus_b2;
	float bc2_sqrt;       /* sqrt(1 - beta2^t) */
	float eps;
	float neg_step_size;  /* -lr / (1 - beta1^t) */
};

/* Host: scalars for update number t (1, 2, ...) with learning rate lr (already scheduled). */
void adamw_hparams_init(struct adamw_hparams *h, double lr, double beta1, double beta2,
                        double eps, double weight_decay, long t);

/* p, g, m, v: (n). In order, per element:
 *   p *= decay;  m = lerp(m, g, 1 - b1);  v = v * b2 + (1 - b2) * g * g;
 *   p += neg_step_size * m / (sqrt(v) / bc2_sqrt + eps) */
void adamw_step(float *p, const float *g, float *m, float *v, size_t n,
                const struct adamw_hparams *h);

/* sumsq += sum of g^2 over (n), accumulated in double. Call once per gradient tensor. */
void grad_sumsq(double *sumsq, const float *g, size_t n);

/* Host: total_norm = sqrt(sumsq) (the logged pre-clip norm, written to *total_norm if not
 * NULL); returns min(max_norm / (total_norm + 1e-6), 1) as torch computes it in float. */
float grad_clip_coef(double sumsq, double max_norm, float *total_norm);

/* g: (n) *= coef. */
void grad_scale(float *g, size_t n, float coef);

#endif
