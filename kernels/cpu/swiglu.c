/* qlora-tools: ISC license. */
/* SwiGLU forward/backward, elementwise: the reference loops, and the fast variants that take
 * the sigmoid from kernels/cpu/vexp.h (libm's expf call was 5% of a training step). */
#include "kernels/swiglu.h"

#include <math.h>

#include "kernels/cpu/vexp.h"

enum { CHUNK = SWIGLU_FAST_CHUNK }; /* sigmoids computed at a time (on the stack) */

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

void swiglu_forward_fast(float *out, const float *gate, const float *up, size_t N)
{
	float s[CHUNK];
	for (size_t i0 = 0; i0 < N; i0 += CHUNK) {
		int n = N - i0 < CHUNK ? (int)(N - i0) : CHUNK;
		vx_sigmoid(s, gate + i0, n);
		for (int i = 0; i < n; i++)
			out[i0 + i] = gate[i0 + i] * s[i] * up[i0 + i];
	}
}

void swiglu_backward_fast(float *dgate, float *dup, const float *dout, const float *gate,
                          const float *up, size_t N)
{
	float s[CHUNK];
	for (size_t i0 = 0; i0 < N; i0 += CHUNK) {
		int n = N - i0 < CHUNK ? (int)(N - i0) : CHUNK;
		vx_sigmoid(s, gate + i0, n);
		for (int i = 0; i < n; i++) {
			size_t j = i0 + i;
			float g = gate[j], d = dout[j];
			dup[j] += d * g * s[i];
			dgate[j] += d * up[j] * s[i] * (1.0f + g * (1.0f - s[i]));
		}
	}
}
