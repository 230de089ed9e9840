/* qlora-tools: ISC license. */
/* Host side of AdamW and clipping: Python-float arithmetic in double, rounded to float where
 * torch meets a float32 tensor. */
#include "kernels/adamw.h"

#include <math.h>

void adamw_hparams_init(struct adamw_hparams *h, double lr, double beta1, double beta2,
                        double eps, double weight_decay, long t)
{
	double bc1 = 1 - pow(beta1, (double)t), bc2 = 1 - pow(beta2, (double)t);
	h->decay = (float)(1 - lr * weight_decay);
	h->one_minus_b1 = (float)(1 - beta1);
	h->beta2 = (float)beta2;
	h->one_minus_b2 = (float)(1 - beta2);
	h->bc2_sqrt = (float)pow(bc2, 0.5);
	h->eps = (float)eps;
	h->neg_step_size = (float)-(lr / bc1);
}

float grad_clip_coef(double sumsq, double max_norm, float *total_norm)
{
	float tn = (float)sqrt(sumsq);
	if (total_norm)
		*total_norm = tn;
	/* torch: max_norm / (total + 1e-6) is reciprocal(total + 1e-6) * max_norm in float */
	float c = (1.0f / (tn + 1e-6f)) * (float)max_norm;
	return c < 1.0f ? c : 1.0f;
}
