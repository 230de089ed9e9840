/* qlora-tools: ISC license. */
/* CPU reference for dropout with a counter-based mask; kernels/cuda/dropout.cu is tested
 * against this file. */
#include "kernels/dropout.h"

#include "kernels/embedding.h"

float dropout_scale(double p)
{
	return (float)(1.0 / (1.0 - p));
}

/* u in [0, 1): exact, (u + 1) has at most 24 significant bits */
static int keep(uint64_t seed, size_t i, float p)
{
	float u = (neftune_uniform(seed, i) + 1.0f) * 0.5f;
	return u >= p;
}

/* out, x: (n) */
void dropout_forward_span(float *out, const float *x, size_t lo, size_t hi, float p,
                          float scale, uint64_t seed)
{
	for (size_t i = lo; i < hi; i++)
		out[i] = keep(seed, i, p) ? x[i] * scale : 0.0f;
}

void dropout_forward(float *out, const float *x, size_t n, float p, float scale, uint64_t seed)
{
	dropout_forward_span(out, x, 0, n, p, scale, seed);
}

/* dx: (n) +=; dout: (n) */
void dropout_backward_span(float *dx, const float *dout, size_t lo, size_t hi, float p,
                           float scale, uint64_t seed)
{
	for (size_t i = lo; i < hi; i++)
		if (keep(seed, i, p))
			dx[i] += dout[i] * scale;
}

void dropout_backward(float *dx, const float *dout, size_t n, float p, float scale,
                      uint64_t seed)
{
	dropout_backward_span(dx, dout, 0, n, p, scale, seed);
}
