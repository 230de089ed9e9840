/* qlora-tools: ISC license. */
/*
 * Host side of RoPE: inverse frequencies, float32 step for step as transformers computes them
 * (modeling_rope_utils.py), so that cos/sin tables match bit for bit. Python scalars meeting a
 * float32 tensor are cast to float first; "a / tensor" is reciprocal(tensor) * a (torch
 * Tensor.__rdiv__).
 */
#include "kernels/rope.h"

#include <math.h>

void rope_inv_freq(float *inv_freq, int HD, double theta, const struct rope_scaling *s)
{
	int half = HD / 2;
	for (int i = 0; i < half; i++) {
		float e = (float)(2 * i) / (float)HD;
		float p = powf((float)theta, e);
		inv_freq[i] = (1.0f / p) * 1.0f;
	}
	if (!s || s->type == ROPE_DEFAULT)
		return;
	float factor = (float)s->factor;
	if (s->type == ROPE_LINEAR) {
		for (int i = 0; i < half; i++)
			inv_freq[i] = inv_freq[i] / factor;
		return;
	}
	/* llama3 */
	float low_wl = (float)(s->original_max_position / s->low_freq_factor);
	float high_wl = (float)(s->original_max_position / s->high_freq_factor);
	float two_pi = (float)(2 * M_PI);
	float old_ctx = (float)s->original_max_position;
	float low = (float)s->low_freq_factor;
	float span = (float)(s->high_freq_factor - s->low_freq_factor);
	for (int i = 0; i < half; i++) {
		float f = inv_freq[i];
		float wl = (1.0f / f) * two_pi;
		float fl = wl > low_wl ? f / factor : f;
		float sm = ((1.0f / wl) * old_ctx - low) / span;
		float smoothed = (1.0f - sm) * fl / factor + sm * fl;
		int medium = !(wl < high_wl) && !(wl > low_wl);
		inv_freq[i] = medium ? smoothed : fl;
	}
}
