/* qlora-tools: ISC license. */
/* Causal GQA attention with segment ids: plain-loop reference, forward, backward, decode. */
#include "kernels/attention.h"

#include <math.h>

static float dot(const float *a, const float *b, int n)
{
	float s = 0;
	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

int window_start(int t, int window)
{
	return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
}

/*
 * One query row against keys lo..n-1 (row stride ks floats), skipping keys whose seg differs
 * from segv (seg NULL: none skipped). out: (HD) written; returns the row's log-sum-exp.
 * Three passes as torch: max, sum of exp, then out = sum_j (exp(s_j - max) / sum) v_j.
 */
static float attend_row(float *out, const float *q, const float *k, const float *v, size_t ks,
                        int lo, int n, const int32_t *seg, int32_t segv, int HD, float scale,
                        float cap)
{
	float m = -INFINITY, sum = 0;
	for (int j = lo; j < n; j++)
		if (!seg || seg[j] == segv) {
			float s = attn_softcap(dot(q, k + j * ks, HD) * scale, cap);
			m = s > m ? s : m;
		}
	for (int j = lo; j < n; j++)
		if (!seg || seg[j] == segv)
			sum += expf(attn_softcap(dot(q, k + j * ks, HD) * scale, cap) - m);
	for (int d = 0; d < HD; d++)
		out[d] = 0;
	for (int j = lo; j < n; j++)
		if (!seg || seg[j] == segv) {
			float p = expf(attn_softcap(dot(q, k + j * ks, HD) * scale, cap) - m) / sum;
			for (int d = 0; d < HD; d++)
				out[d] += p * v[j * ks + d];
		}
	return m + logf(sum);
}

/* out: (B, T, NH, HD); lse: (B, NH, T) or NULL; q: (B, T, NH, HD); k, v: (B, T, NKV, HD);
 * seg: (B, T) or NULL */
void attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                       const int32_t *seg, const struct attn_opts *opt, int B, int T, int NH,
                       int NKV, int HD)
{
	float scale = attn_scale(opt, HD), cap = opt ? opt->softcap : 0;
	int window = attn_window(opt);
	size_t qs = (size_t)NH * HD, ks = (size_t)NKV * HD;
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			int g = h / (NH / NKV);
			const float *kb = k + (size_t)b * T * ks + (size_t)g * HD;
			const float *vb = v + (size_t)b * T * ks + (size_t)g * HD;
			const int32_t *sb = seg ? seg + (size_t)b * T : NULL;
			for (int t = 0; t < T; t++) {
				size_t o = (size_t)b * T * qs + t * qs + (size_t)h * HD;
				float l = attend_row(out + o, q + o, kb, vb, ks, window_start(t, window), t + 1, sb,
				                     sb ? sb[t] : 0, HD, scale, cap);
				if (lse)
					lse[((size_t)b * NH + h) * T + t] = l;
			}
		}
}

/* dq: (B, T, NH, HD) +=; dk, dv: (B, T, NKV, HD) +=; dout, q, out: (B, T, NH, HD);
 * k, v: (B, T, NKV, HD); lse: (B, NH, T); seg: (B, T) or NULL */
void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                        const float *k, const float *v, const float *out, const float *lse,
                        const int32_t *seg, const struct attn_opts *opt, int B, int T, int NH,
                        int NKV, int HD)
{
	float scale = attn_scale(opt, HD), cap = opt ? opt->softcap : 0;
	int window = attn_window(opt);
	size_t qs = (size_t)NH * HD, ks = (size_t)NKV * HD;
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			int g = h / (NH / NKV);
			size_t kvo = (size_t)b * T * ks + (size_t)g * HD;
			const int32_t *sb = seg ? seg + (size_t)b * T : NULL;
			for (int t = 0; t < T; t++) {
				size_t o = (size_t)b * T * qs + t * qs + (size_t)h * HD;
				float l = lse[((size_t)b * NH + h) * T + t];
				float D = dot(dout + o, out + o, HD);
				for (int j = window_start(t, window); j <= t; j++) {
					if (sb && sb[j] != sb[t])
						continue;
					const float *kj = k + kvo + j * ks, *vj = v + kvo + j * ks;
					float raw = dot(q + o, kj, HD) * scale;
					float p = expf(attn_softcap(raw, cap) - l);
					float ds = p * (dot(dout + o, vj, HD) - D) * scale;
					if (cap > 0) {
						float th = tanhf(raw / cap);
						ds *= 1 - th * th;
					}
					float *dkj = dk + kvo + j * ks, *dvj = dv + kvo + j * ks;
					for (int d = 0; d < HD; d++) {
						dq[o + d] += ds * kj[d];
						dkj[d] += ds * q[o + d];
						dvj[d] += p * dout[o + d];
					}
				}
			}
		}
}

/* out, q: (B, TN, NH, HD); kc, vc: (B, L, NKV, HD); past: (B) */
void attention_decode(float *out, const float *q, const float *kc, const float *vc,
                      const int32_t *past, const struct attn_opts *opt, int B, int TN, int L,
                      int NH, int NKV, int HD)
{
	float scale = attn_scale(opt, HD), cap = opt ? opt->softcap : 0;
	int window = attn_window(opt);
	size_t qs = (size_t)NH * HD, ks = (size_t)NKV * HD;
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			int g = h / (NH / NKV);
			size_t kvo = (size_t)b * L * ks + (size_t)g * HD;
			for (int i = 0; i < TN; i++) {
				size_t o = ((size_t)b * TN + i) * qs + (size_t)h * HD;
				int t = past[b] + i;
				attend_row(out + o, q + o, kc + kvo, vc + kvo, ks, window_start(t, window), t + 1,
				           NULL, 0, HD, scale, cap);
			}
		}
}
