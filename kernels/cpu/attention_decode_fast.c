/* qlora-tools: ISC license. */
/* Fast CPU decode attention over a KV cache: (batch row, head) pairs on common/pool.h threads;
 * see attention_decode_fast in kernels/attention.h. Tested against kernels/cpu/attention.c.
 * With AVX2 (kernels/cpu/vexp.h's choice) the two inner loops run eight at a time with the
 * scalar loops' bits: the scores eight keys a lane, each lane summing q[e] k[e] over e in
 * order; the output eight dims a lane, each summing p_j v_j[e] over j in order; products and
 * sums rounded separately, as the scalar code compiles (no fused multiply-add). Scalar, the
 * two loops were 27% of gen's CPU time at batch 16 (a chain of dependent adds, and a store
 * and reload of the output per key). */
#include "kernels/attention.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "common/pool.h"
#include "kernels/cpu/vexp.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define T256 __attribute__((target("avx2")))

/* s[j] = q . k_j for j in [lo, n) in blocks of 8 keys; returns where the scalar loop takes up. */
static T256 int scores8(float *s, const float *qr, const float *kc, size_t ks, int lo, int n,
                        int HD)
{
	if (ks > INT_MAX / 16)
		return lo;
	__m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
	                                 _mm256_set1_epi32((int)ks));
	int j = lo;
	for (; j + 16 <= n; j += 16) { /* two blocks: two chains of adds */
		const float *k0 = kc + (size_t)j * ks, *k1 = k0 + 8 * ks;
		__m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
		for (int e = 0; e < HD; e++) {
			__m256 qe = _mm256_set1_ps(qr[e]);
			d0 = _mm256_add_ps(d0, _mm256_mul_ps(qe, _mm256_i32gather_ps(k0 + e, idx, 4)));
			d1 = _mm256_add_ps(d1, _mm256_mul_ps(qe, _mm256_i32gather_ps(k1 + e, idx, 4)));
		}
		_mm256_storeu_ps(s + j, d0);
		_mm256_storeu_ps(s + j + 8, d1);
	}
	for (; j + 8 <= n; j += 8) {
		const float *k0 = kc + (size_t)j * ks;
		__m256 d0 = _mm256_setzero_ps();
		for (int e = 0; e < HD; e++)
			d0 = _mm256_add_ps(d0, _mm256_mul_ps(_mm256_set1_ps(qr[e]),
			                                     _mm256_i32gather_ps(k0 + e, idx, 4)));
		_mm256_storeu_ps(s + j, d0);
	}
	return j;
}

/* orow[e] = sum over j in [lo, n) of p[j] v_j[e], for e in blocks of 8 (32 at a time: four
 * chains of adds); returns where the scalar loop takes up. */
static T256 int values8(float *orow, const float *p, const float *vc, size_t ks, int lo, int n,
                        int HD)
{
	int e = 0;
	for (; e + 32 <= HD; e += 32) {
		__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
		for (int j = lo; j < n; j++) {
			const float *v = vc + (size_t)j * ks + e;
			__m256 pj = _mm256_set1_ps(p[j]);
			a0 = _mm256_add_ps(a0, _mm256_mul_ps(pj, _mm256_loadu_ps(v)));
			a1 = _mm256_add_ps(a1, _mm256_mul_ps(pj, _mm256_loadu_ps(v + 8)));
			a2 = _mm256_add_ps(a2, _mm256_mul_ps(pj, _mm256_loadu_ps(v + 16)));
			a3 = _mm256_add_ps(a3, _mm256_mul_ps(pj, _mm256_loadu_ps(v + 24)));
		}
		_mm256_storeu_ps(orow + e, a0);
		_mm256_storeu_ps(orow + e + 8, a1);
		_mm256_storeu_ps(orow + e + 16, a2);
		_mm256_storeu_ps(orow + e + 24, a3);
	}
	for (; e + 8 <= HD; e += 8) {
		__m256 a0 = _mm256_setzero_ps();
		for (int j = lo; j < n; j++)
			a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_set1_ps(p[j]),
			                                     _mm256_loadu_ps(vc + (size_t)j * ks + e)));
		_mm256_storeu_ps(orow + e, a0);
	}
	return e;
}
#endif

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
	int simd = 0;
#if defined(__x86_64__) && defined(__GNUC__)
	simd = vx_get_isa() >= VX_AVX2;
#endif
	for (int t = 0; t < c->TN; t++) {
		size_t o = ((size_t)b * c->TN + t) * qs + (size_t)h * HD;
		const float *qr = c->q + o;
		int n = c->past[b] + t + 1, lo = window_start(n - 1, c->window), j0 = lo;
		float m = -INFINITY, sum = 0;
#if defined(__x86_64__) && defined(__GNUC__)
		if (simd)
			j0 = scores8(s, qr, c->kc + kvo, ks, lo, n, HD);
#endif
		for (int j = j0; j < n; j++) {
			const float *kr = c->kc + kvo + j * ks;
			float d = 0;
			for (int e = 0; e < HD; e++)
				d += qr[e] * kr[e];
			s[j] = d;
		}
		for (int j = lo; j < n; j++) {
			s[j] = attn_softcap(s[j] * c->scale, c->cap);
			m = s[j] > m ? s[j] : m;
		}
		for (int j = lo; j < n; j++)
			sum += s[j] = expf(s[j] - m);
		for (int j = lo; j < n; j++)
			s[j] /= sum;
		float *orow = c->out + o;
		int e0 = 0;
#if defined(__x86_64__) && defined(__GNUC__)
		if (simd)
			e0 = values8(orow, s, c->vc + kvo, ks, lo, n, HD);
#endif
		for (int e = e0; e < HD; e++)
			orow[e] = 0;
		for (int j = lo; j < n; j++) {
			const float *vr = c->vc + kvo + j * ks;
			float pj = s[j];
			for (int e = e0; e < HD; e++)
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
