/* qlora-tools: ISC license. */
/* AdamW step and gradient clipping kernels. */
#include "kernels/adamw.h"

#include <math.h>

/* p, g, m, v: (n) */
void adamw_step(float *p, const float *g, float *m, float *v, size_t n,
                const struct adamw_hparams *h)
{
	float w = h->one_minus_b1;
	for (size_t i = 0; i < n; i++) {
		float gi = g[i], pi = p[i];
		if (h->decay != 1.0f)
			pi = pi * h->decay;
		/* torch lerp (its vectorised CPU form fuses the multiply-add):
		 * weight < 0.5 ? a + w (b - a) : b - (b - a) (1 - w) */
		float mi = w < 0.5f ? fmaf(w, gi - m[i], m[i]) : fmaf(-(1.0f - w), gi - m[i], gi);
		float vi = fmaf(h->one_minus_b2 * gi, gi, v[i] * h->beta2); /* addcmul, fused too */
		float denom = sqrtf(vi) / h->bc2_sqrt + h->eps;
		p[i] = pi + h->neg_step_size * mi / denom;
		m[i] = mi;
		v[i] = vi;
	}
}

/* sumsq += sum g^2; g: (n) */
void grad_sumsq(double *sumsq, const float *g, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)g[i] * g[i];
	*sumsq += s;
}

/* g: (n) */
void grad_scale(float *g, size_t n, float coef)
{
	for (size_t i = 0; i < n; i++)
		g[i] *= coef;
}
