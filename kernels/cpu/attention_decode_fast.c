/* qlora-tools: ISC license. */
/* Fast CPU decode attention over a KV cache: (batch row, head) pairs on common/pool.h threads;
 * see attention_decode_fast in kernels/attention.h. Tested against kernels/cpu/attention.c. */
#include "kernels/attention.h"

#include <math.h>
#include <stdlib.h>

#include "common/pool.h"

struct dec {
	float *out;
	const float *q, *kc, *vc;
	const int32_t *past;
	int window, TN, L, NH, NKV, HD;
	float scale, cap;
};

static void dec_task(void *p, size_t i, int worker)
{
	const struct dec *c = p;
	(void)worker;
	int b = (int)(i / c->NH), h = (int)(i % c->NH), HD = c->HD;
	size_t qs = (size_t)c->NH * HD, ks = (size_t)c->NKV * HD;
	size_t kvo = (size_t)b * c->L * ks + (size_t)(h / (c->NH / c->NKV)) * HD;
	float *s = malloc(sizeof(float) * (size_t)(c->past[b] + c->TN));
	for (int t = 0; t < c->TN; t++) {
		size_t o = ((size_t)b * c->TN + t) * qs + (size_t)h * HD;
		const float *qr = c->q + o;
		int n = c->past[b] + t + 1, lo = window_start(n - 1, c->window);
		float m = -INFINITY, sum = 0;
		for (int j = lo; j < n; j++) {
			const float *kr = c->kc + kvo + j * ks;
			float d = 0;
			for (int e = 0; e < HD; e++)
				d += qr[e] * kr[e];
			s[j] = attn_softcap(d * c->scale, c->cap);
			m = s[j] > m ? s[j] : m;
		}
		for (int j = lo; j < n; j++)
			sum += s[j] = expf(s[j] - m);
		float *orow = c->out + o;
		for (int e = 0; e < HD; e++)
			orow[e] = 0;
		for (int j = lo; j < n; j++) {
			const float *vr = c->vc + kvo + j * ks;
			float pj = s[j] / sum;
			for (int e = 0; e < HD; e++)
				orow[e] += pj * vr[e];
		}
	}
	free(s);
}

/* out, q: (B, TN, NH, HD); kc, vc: (B, L, NKV, HD); past: (B) */
void attention_decode_fast(float *out, const float *q, const float *kc, const float *vc,
                           const int32_t *past, const struct attn_opts *opt, int B, int TN,
                           int L, int NH, int NKV, int HD, int n_threads)
{
	struct dec c = { out, q, kc, vc, past, attn_window(opt), TN, L, NH, NKV, HD,
	                 attn_scale(opt, HD), opt ? opt->softcap : 0 };
	qt_pool_for(n_threads, (size_t)B * NH, dec_task, &c);
}
