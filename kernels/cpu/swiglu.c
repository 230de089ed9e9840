/* qlora-tools: ISC license. */
/* SwiGLU forward/backward, elementwise. */
#include "kernels/swiglu.h"

#include <math.h>

/* out, gate, up: (N) */
void swiglu_forward(float *out, const float *gate, const float *up, size_t N)
{
	for (size_t i = 0; i < N; i++) {
		float g = gate[i];
		out[i] = g / (1.0f + expf(-g)) * up[i];
	}
}

/* dgate, dup: (N) +=; dout, gate, up: (N) */
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                     const float *up, size_t N)
{
	for (size_t i = 0; i < N; i++) {
		float g = gate[i], s = 1.0f / (1.0f + expf(-g));
		dup[i] += dout[i] * g * s;
		dgate[i] += dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
	}
}
