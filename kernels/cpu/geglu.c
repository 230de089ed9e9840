/* qlora-tools: ISC license. */
/* GeGLU forward/backward, elementwise, in ATen's order of operations. */
#include "kernels/geglu.h"

#include <math.h>

#define GELU_BETA  0.7978845608028654f /* M_SQRT2 * M_2_SQRTPI * 0.5 */
#define GELU_KAPPA 0.044715f

static float gelu_tanh(float x)
{
	float inner = GELU_BETA * (x + GELU_KAPPA * (x * x * x));
	return 0.5f * x * (1.0f + tanhf(inner));
}

/* out, gate, up: (N) */
void geglu_forward(float *out, const float *gate, const float *up, size_t N)
{
	for (size_t i = 0; i < N; i++)
		out[i] = gelu_tanh(gate[i]) * up[i];
}

/* dgate, dup: (N) +=; dout, gate, up: (N) */
void geglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                    const float *up, size_t N)
{
	for (size_t i = 0; i < N; i++) {
		float x = gate[i], x2 = x * x;
		float t = tanhf(GELU_BETA * (x + GELU_KAPPA * x2 * x));
		float d = 0.5f * (1.0f + t) + 0.5f * x * ((1.0f - t * t) * GELU_BETA *
		                                           (1.0f + 3.0f * GELU_KAPPA * x2));
		dup[i] += dout[i] * 0.5f * x * (1.0f + t);
		dgate[i] += dout[i] * up[i] * d;
	}
}
