/* qlora-tools: ISC license. */
/* The prefix slots of prefix tuning merged into attention by log-sum-exp; see
 * kernels/attention.h. P is small (tens of slots), so plain loops do: T * NH * P * HD. */
#include "kernels/attention.h"

#include <math.h>
#include <stdlib.h>

/* The first slot token t sees: all of them without a window. */
static int first_slot(const struct attn_opts *o, const int32_t *pos, int t, int P)
{
	int w = attn_window(o);
	if (w <= 0)
		return 0;
	long f = (long)P + pos[t] - w + 1;
	return f < 0 ? 0 : f > P ? P : (int)f;
}

static float dot(const float *a, const float *b, int n)
{
	float s = 0;
	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

void attention_prefix_forward(float *out, float *lse, const float *q, const float *pk,
                              const float *pv, size_t ps, const int32_t *pos,
                              const struct attn_opts *opt, int T, int NH, int NKV, int HD,
                              int P)
{
	float scale = attn_scale(opt, HD), cap = opt ? opt->softcap : 0;
	float *s = malloc(sizeof(float) * (size_t)(P > 0 ? P : 1));
	size_t qs = (size_t)NH * HD;
	for (int t = 0; t < T; t++) {
		int p0 = first_slot(opt, pos, t, P);
		if (p0 >= P)
			continue;
		for (int h = 0; h < NH; h++) {
			size_t g = (size_t)(h / (NH / NKV)) * HD;
			const float *qr = q + (size_t)t * qs + (size_t)h * HD;
			float *orow = out + (size_t)t * qs + (size_t)h * HD;
			float m = -INFINITY;
			for (int p = p0; p < P; p++) {
				s[p] = attn_softcap(dot(qr, pk + (size_t)p * ps + g, HD) * scale, cap);
				m = s[p] > m ? s[p] : m;
			}
			float sum = 0;
			for (int p = p0; p < P; p++)
				sum += s[p] = expf(s[p] - m);
			/* out_p = sum_p e_p v_p / sum, with log-sum-exp m + log(sum); merged with the
			 * keys' (out_k, lse_k) by their weights in the joint softmax */
			float lk = lse[(size_t)h * T + t], lp = m + logf(sum);
			float mx = lk > lp ? lk : lp;
			float l = mx + logf(expf(lk - mx) + expf(lp - mx));
			float wk = expf(lk - l), wp = expf(lp - l) / sum;
			for (int d = 0; d < HD; d++) {
				float acc = 0;
				for (int p = p0; p < P; p++)
					acc += s[p] * pv[(size_t)p * ps + g + d];
				orow[d] = wk * orow[d] + wp * acc;
			}
			lse[(size_t)h * T + t] = l;
		}
	}
	free(s);
}

void attention_prefix_backward(float *dq, float *dpk, float *dpv, const float *dout,
                               const float *q, const float *pk, const float *pv, size_t ps,
                               const float *out, const float *lse, const int32_t *pos,
                               const struct attn_opts *opt, int T, int NH, int NKV, int HD,
                               int P)
{
	float scale = attn_scale(opt, HD), cap = opt ? opt->softcap : 0;
	size_t qs = (size_t)NH * HD;
	for (int t = 0; t < T; t++) {
		int p0 = first_slot(opt, pos, t, P);
		for (int h = 0; h < NH && p0 < P; h++) {
			size_t g = (size_t)(h / (NH / NKV)) * HD, o = (size_t)t * qs + (size_t)h * HD;
			float l = lse[(size_t)h * T + t], D = dot(dout + o, out + o, HD);
			for (int p = p0; p < P; p++) {
				const float *kp = pk + (size_t)p * ps + g, *vp = pv + (size_t)p * ps + g;
				float raw = dot(q + o, kp, HD) * scale;
				float pr = expf(attn_softcap(raw, cap) - l);
				float ds = pr * (dot(dout + o, vp, HD) - D) * scale;
				if (cap > 0) {
					float th = tanhf(raw / cap);
					ds *= 1 - th * th;
				}
				float *dkp = dpk + (size_t)p * ps + g, *dvp = dpv + (size_t)p * ps + g;
				for (int d = 0; d < HD; d++) {
					dq[o + d] += ds * kp[d];
					dkp[d] += ds * q[o + d];
					dvp[d] += pr * dout[o + d];
				}
			}
		}
	}
}
