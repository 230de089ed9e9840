/* qlora-tools: ISC license. */
/* Soft cap and residual add; see kernels/softcap.h. */
#include "kernels/softcap.h"

#include <math.h>

void softcap_forward(float *y, const float *x, size_t N, float c)
{
	for (size_t i = 0; i < N; i++)
		y[i] = tanhf(x[i] / c) * c;
}

void softcap_backward(float *dx, const float *dy, const float *y, size_t N, float c)
{
	for (size_t i = 0; i < N; i++) {
		float t = y[i] / c;
		dx[i] = dy[i] * (1 - t * t);
	}
}

void residual_add(float *x, const float *y, size_t N)
{
	for (size_t i = 0; i < N; i++)
		x[i] += y[i];
}
