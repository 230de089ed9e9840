/* qlora-tools: ISC license. */
/*
 * A prototype, not in gen: the NF4 decode matvec with int8 activations, to measure how far
 * that path would go against ggml's Q4_0 (llama.cpp's CPU decode does the same trade). It
 * changes the model's math, which is why it is only here: x is quantized to int8 per block of 64
 * (scale max|x| / 127, as ggml's Q8_0 per 32), the 16 NF4 code values to int8 (round(127 code),
 * as ggml's IQ4_NL table) and the bf16 cast of the weights is skipped; a block's dot is exact
 * in int32, scaled by absmax * dx / 127 and accumulated in f32 in a fixed order (results do not
 * depend on threads). AVX2, one row of x, blocksize 64, C % 64 == 0. Included by
 * nf4_decode_bench.c, which reports its speed and its error against matvec_nf4_forward.
 */
#ifndef QT_BENCH_NF4_Q8_PROTO_H
#define QT_BENCH_NF4_Q8_PROTO_H

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "common/pool.h"

/* x (C) into xq (C int8: each 32 as the nibble lookups leave them, even elements then odd)
 * and dx (C / 64 scales, over 127). */
static void nf4q8_quantize_x(const float *x, int C, int8_t *xq, float *dx)
{
	for (int b = 0; b < C / 64; b++) {
		const float *xb = x + 64 * b;
		float m = 0;
		for (int i = 0; i < 64; i++)
			m = fmaxf(m, fabsf(xb[i]));
		float d = m / 127, inv = m > 0 ? 127 / m : 0;
		dx[b] = d / 127;
		for (int h = 0; h < 64; h += 32)
			for (int k = 0; k < 16; k++) {
				xq[64 * b + h + k] = (int8_t)lrintf(xb[h + 2 * k] * inv);
				xq[64 * b + h + 16 + k] = (int8_t)lrintf(xb[h + 2 * k + 1] * inv);
			}
	}
}

struct nf4q8_job {
	float *out;
	const int8_t *xq;
	const float *dx, *absmax;
	const uint8_t *packed;
	int C, OC;
	__m256i ktab; /* round(127 code), in both lanes */
};

__attribute__((target("avx2,fma"))) static void nf4q8_rows(void *ctx, size_t task, int worker)
{
	const struct nf4q8_job *j = ctx;
	(void)worker;
	const size_t C = (size_t)j->C;
	int o1 = (int)task * 32 + 32 < j->OC ? (int)task * 32 + 32 : j->OC;
	const __m256i shift = _mm256_setr_epi32(4, 4, 4, 4, 0, 0, 0, 0);
	const __m256i lo4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
	for (int o = (int)task * 32; o < o1; o++) {
		const uint8_t *p = j->packed + (size_t)o * C / 2;
		const float *am = j->absmax + (size_t)o * C / 64;
		__m256 acc = _mm256_setzero_ps();
		for (size_t b = 0; b < C / 64; b++) {
			if ((b & 3) == 0)
				_mm_prefetch((const char *)(p + 32 * b) + 768, _MM_HINT_T0);
			__m256i s = _mm256_setzero_si256();
			for (int h = 0; h < 2; h++) {
				__m256i q = _mm256_broadcastsi128_si256(
					_mm_loadu_si128((const __m128i *)(p + 32 * b + 16 * h)));
				q = _mm256_and_si256(_mm256_srlv_epi32(q, shift), lo4);
				__m256i w = _mm256_shuffle_epi8(j->ktab, q);
				__m256i xv = _mm256_loadu_si256((const __m256i *)(j->xq + 64 * b + 32 * h));
				__m256i pr = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w),
				                                  _mm256_sign_epi8(xv, w));
				s = _mm256_add_epi32(s, _mm256_madd_epi16(pr, ones));
			}
			acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(am[b] * j->dx[b]),
			                      acc);
		}
		float t[8];
		_mm256_storeu_ps(t, acc);
		j->out[o] = ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
	}
}

/* out (OC) = W x for an NF4 W (OC, C) of blocksize 64; xq, dx from nf4q8_quantize_x. */
__attribute__((target("avx2,fma"))) static void nf4q8_matvec(float *out, const int8_t *xq, const float *dx, const uint8_t *packed,
                         const float *absmax, const float *code, int C, int OC, int threads)
{
	int8_t k[16];
	for (int i = 0; i < 16; i++)
		k[i] = (int8_t)lrintf(127 * code[i]);
	struct nf4q8_job j = { .out = out, .xq = xq, .dx = dx, .absmax = absmax, .packed = packed,
	                       .C = C, .OC = OC };
	j.ktab = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)k));
	size_t tasks = ((size_t)OC + 31) / 32;
	if (threads == 1)
		for (size_t i = 0; i < tasks; i++)
			nf4q8_rows(&j, i, 0);
	else
		qt_pool_for(threads, tasks, nf4q8_rows, &j);
}

#endif
