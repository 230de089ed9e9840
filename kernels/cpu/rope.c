/* qlora-tools: ISC license. */
/* RoPE tables and rotation (rotate_half convention), forward and backward. */
#include "kernels/rope.h"

#include <math.h>

/* cos, sin: (T, HD/2); pos: (T); inv_freq: (HD/2) */
void rope_table(float *cos_t, float *sin_t, const int32_t *pos, const float *inv_freq, int T,
                int HD)
{
	int half = HD / 2;
	for (int t = 0; t < T; t++) {
		float p = (float)pos[t];
		for (int j = 0; j < half; j++) {
			float a = p * inv_freq[j];
			cos_t[(size_t)t * half + j] = cosf(a);
			sin_t[(size_t)t * half + j] = sinf(a);
		}
	}
}

/* Rotates the first rot dims of every head of every token by sign * angle, pairs (j, j + rot/2)
 * or interleaved (2j, 2j + 1); the rest are copied; out may alias x. */
static void rotate(float *out, const float *x, const float *cos_t, const float *sin_t, int T,
                   int NH, int HD, int rot, int interleaved, float sign)
{
	int half = rot / 2, step = interleaved ? 2 : 1, off = interleaved ? 1 : half;
	for (int t = 0; t < T; t++) {
		const float *c = cos_t + (size_t)t * half, *s = sin_t + (size_t)t * half;
		for (int h = 0; h < NH; h++) {
			size_t o = ((size_t)t * NH + h) * HD;
			for (int j = 0; j < half; j++) {
				size_t i1 = o + (size_t)j * step, i2 = i1 + off;
				float x1 = x[i1], x2 = x[i2];
				float sn = sign * s[j];
				out[i1] = x1 * c[j] + (-x2) * sn;
				out[i2] = x2 * c[j] + x1 * sn;
			}
			if (out != x)
				for (int d = rot; d < HD; d++)
					out[o + d] = x[o + d];
		}
	}
}

/* x, out: (T, NH, HD); cos, sin: (T, HD/2) */
void rope_forward(float *out, const float *x, const float *cos_t, const float *sin_t, int T,
                  int NH, int HD)
{
	rotate(out, x, cos_t, sin_t, T, NH, HD, HD, 0, 1.0f);
}

/* dx (written), dout: (T, NH, HD); cos, sin: (T, HD/2) */
void rope_backward(float *dx, const float *dout, const float *cos_t, const float *sin_t, int T,
                   int NH, int HD)
{
	rotate(dx, dout, cos_t, sin_t, T, NH, HD, HD, 0, -1.0f);
}

/* x, out: (T, NH, HD); cos, sin: (T, rot/2) */
void rope_forward_part(float *out, const float *x, const float *cos_t, const float *sin_t, int T,
                       int NH, int HD, int rot, int interleaved)
{
	rotate(out, x, cos_t, sin_t, T, NH, HD, rot, interleaved, 1.0f);
}

/* dx (written), dout: (T, NH, HD); cos, sin: (T, rot/2) */
void rope_backward_part(float *dx, const float *dout, const float *cos_t, const float *sin_t,
                        int T, int NH, int HD, int rot, int interleaved)
{
	rotate(dx, dout, cos_t, sin_t, T, NH, HD, rot, interleaved, -1.0f);
}
