/* qlora-tools: ISC license. */
/*
 * NF4 matvec with int8 activations; kernels/matvec.h says what it computes. One scalar quantizer
 * of x serves both paths (O(C) per row, next to O(OC C) for the product); the plain-C rows and
 * the AVX2 rows compute the same int32 lane sums and the same f32 combination, in the same
 * order, so they agree bit for bit.
 */
#include "kernels/matvec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/pool.h"
#include "kernels/cpu/matvec_nf4.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define QB 64             /* elements per activation block (and per NF4 block) */
#define ROWS_PER_TASK 32

struct q8job {
	float         *out;
	const int8_t  *xq;    /* (T, C): each 32 elements as the nibbles come, even then odd */
	const float   *dx;    /* (T, C / 64) */
	const uint8_t *packed;
	const float   *absmax;
	const int32_t *xc;    /* (T, C / 64, 8): 128 times each int32 lane's sum of xq (VNNI rows) */
	int8_t         kq[16];
	int            T, C, OC;
	float          beta;
};

int matvec_nf4_q8_applies(int C, size_t blocksize)
{
	return blocksize == QB && C > 0 && C % QB == 0;
}

/* One row of x into xq and dx (C / 64 scales). A NaN or infinity in a block makes its scale
 * NaN (and its codes 0), so the outputs it reaches are NaN as in the f32 path. */
static void quantize_row(const float *x, int C, int8_t *xq, float *dx)
{
	for (int b = 0; b < C / QB; b++) {
		const float *xb = x + (size_t)QB * b;
		int8_t *qb = xq + (size_t)QB * b;
		float m = 0;
		int bad = 0;
		for (int i = 0; i < QB; i++) {
			float a = fabsf(xb[i]);
			bad |= !(a <= 3.4028235e38f); /* NaN or infinity */
			m = a > m ? a : m;
		}
		if (bad || m == 0) {
			memset(qb, 0, QB);
			dx[b] = bad ? NAN : 0.0f;
			continue;
		}
		float inv = 127.0f / m;
		dx[b] = m / 16129.0f;
		for (int h = 0; h < QB; h += 32)
			for (int k = 0; k < 16; k++) {
				qb[h + k] = (int8_t)lrintf(xb[h + 2 * k] * inv);
				qb[h + 16 + k] = (int8_t)lrintf(xb[h + 2 * k + 1] * inv);
			}
	}
}

static float combine(const float a[8])
{
	return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

static void store(const struct q8job *j, int t, int o, float v)
{
	float *dst = j->out + (size_t)t * j->OC + o;
	*dst = j->beta != 0.0f ? *dst + v : v;
}

/* The reference: matvec.h's definition, lane by lane. */
static void rows_ref(const struct q8job *j, int o0, int o1)
{
	const size_t C = (size_t)j->C, nb = C / QB;
	for (int o = o0; o < o1; o++) {
		const uint8_t *p = j->packed + (size_t)o * C / 2;
		const float *am = j->absmax + (size_t)o * nb;
		for (int t = 0; t < j->T; t++) {
			const int8_t *xq = j->xq + (size_t)t * C;
			const float *dx = j->dx + (size_t)t * nb;
			float acc[8] = { 0 };
			for (size_t b = 0; b < nb; b++) {
				float scale = am[b] * dx[b];
				for (int l = 0; l < 8; l++) {
					int32_t s = 0;
					for (int h = 0; h < 2; h++)
						for (int i = 0; i < 4; i++) {
							/* element 2(4(l & 3) + i) + (l >> 2) of the 32 */
							int k = 4 * (l & 3) + i;
							uint8_t byte = p[QB / 2 * b + 16 * h + k];
							int code = l >> 2 ? byte & 15 : byte >> 4;
							s += j->kq[code] *
							     xq[QB * b + 32 * h + 16 * (l >> 2) + k];
						}
					acc[l] = fmaf((float)s, scale, acc[l]);
				}
			}
			store(j, t, o, combine(acc));
		}
	}
}

#if defined(__x86_64__) && defined(__GNUC__)
/* 32 codes' bytes as lanes: low 128 bits the high nibbles (even elements), high the low. Each
 * int32 lane of madd(maddubs) sums bytes 4l .. 4l+3: the reference's lane l. The int8 product
 * is |w| * (x with w's sign), at most 2 * 127 * 127 per int16: no saturation. */
__attribute__((target("avx2,fma"))) static void rows_avx2(const struct q8job *j, int o0, int o1)
{
	const size_t C = (size_t)j->C, nb = C / QB;
	const __m256i shift = _mm256_setr_epi32(4, 4, 4, 4, 0, 0, 0, 0);
	const __m256i lo4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
	const __m256i ktab = _mm256_broadcastsi128_si256(
		_mm_loadu_si128((const __m128i *)(const void *)j->kq));
	for (int o = o0; o < o1; o++) {
		const uint8_t *p = j->packed + (size_t)o * C / 2;
		const float *am = j->absmax + (size_t)o * nb;
		for (int t = 0; t < j->T; t++) {
			const int8_t *xq = j->xq + (size_t)t * C;
			const float *dx = j->dx + (size_t)t * nb;
			__m256 acc = _mm256_setzero_ps();
			/* no software prefetch: the row is one sequential stream, and a prefetch every
			 * 128 bytes measured 20-25% slower on Zen 3 than the hardware's alone */
			for (size_t b = 0; b < nb; b++) {
				__m256i s = _mm256_setzero_si256();
				for (int h = 0; h < 2; h++) {
					__m256i q = _mm256_broadcastsi128_si256(
						_mm_loadu_si128((const __m128i *)(const void *)(p + 32 * b + 16 * h)));
					q = _mm256_and_si256(_mm256_srlv_epi32(q, shift), lo4);
					__m256i w = _mm256_shuffle_epi8(ktab, q);
					__m256i xv = _mm256_loadu_si256(
						(const __m256i *)(const void *)(xq + QB * b + 32 * h));
					__m256i pr = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w),
					                                  _mm256_sign_epi8(xv, w));
					s = _mm256_add_epi32(s, _mm256_madd_epi16(pr, ones));
				}
				acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(am[b] * dx[b]),
				                      acc);
			}
			float a[8];
			_mm256_storeu_ps(a, acc);
			store(j, t, o, combine(a));
		}
	}
}

/* rows_avx2 with VPDPBUSD (unsigned times signed bytes, four products summed into each int32
 * lane, no intermediate saturation): the codes biased by 128 (kq + 128, 1..255) times xq, less
 * 128 times the lane's sum of xq (xc, once per call), is rows_avx2's lane sum exactly, and one
 * instruction per 32 weights replaces the two signs, the two multiplies and the add. */
__attribute__((target("avx2,fma,avx512f,avx512vl,avx512vnni"))) static void
rows_vnni(const struct q8job *j, int o0, int o1)
{
	const size_t C = (size_t)j->C, nb = C / QB;
	const __m256i shift = _mm256_setr_epi32(4, 4, 4, 4, 0, 0, 0, 0);
	const __m256i lo4 = _mm256_set1_epi8(0x0F);
	const __m256i ktab = _mm256_xor_si256(_mm256_broadcastsi128_si256(
		_mm_loadu_si128((const __m128i *)(const void *)j->kq)), _mm256_set1_epi8(-128));
	for (int o = o0; o < o1; o++) {
		const uint8_t *p = j->packed + (size_t)o * C / 2;
		const float *am = j->absmax + (size_t)o * nb;
		for (int t = 0; t < j->T; t++) {
			const int8_t *xq = j->xq + (size_t)t * C;
			const float *dx = j->dx + (size_t)t * nb;
			const int32_t *xc = j->xc + (size_t)t * nb * 8;
			__m256 acc = _mm256_setzero_ps();
			for (size_t b = 0; b < nb; b++) {
				__m256i s = _mm256_setzero_si256();
				for (int h = 0; h < 2; h++) {
					__m256i q = _mm256_broadcastsi128_si256(
						_mm_loadu_si128((const __m128i *)(const void *)(p + 32 * b + 16 * h)));
					q = _mm256_and_si256(_mm256_srlv_epi32(q, shift), lo4);
					__m256i xv = _mm256_loadu_si256(
						(const __m256i *)(const void *)(xq + QB * b + 32 * h));
					s = _mm256_dpbusd_epi32(s, _mm256_shuffle_epi8(ktab, q), xv);
				}
				s = _mm256_sub_epi32(s, _mm256_loadu_si256(
					(const __m256i *)(const void *)(xc + 8 * b)));
				acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(am[b] * dx[b]),
				                      acc);
			}
			float a[8];
			_mm256_storeu_ps(a, acc);
			store(j, t, o, combine(a));
		}
	}
}
#endif

/* xc for row t of xq: lane l of block b, 128 times the sum of xq's bytes 4l..4l+3 of both
 * halves of 32 (the bytes rows_vnni's lane l multiplies). */
static void lane_sums(const int8_t *xq, int C, int32_t *xc)
{
	for (int b = 0; b < C / QB; b++)
		for (int l = 0; l < 8; l++) {
			int32_t s = 0;
			for (int h = 0; h < 2; h++)
				for (int i = 0; i < 4; i++)
					s += xq[QB * b + 32 * h + 4 * l + i];
			xc[8 * b + l] = 128 * s;
		}
}

typedef void (*q8rows_fn)(const struct q8job *j, int o0, int o1);

struct q8task {
	const struct q8job *j;
	q8rows_fn           rows;
};

static void task(void *ctx, size_t i, int worker)
{
	const struct q8task *k = ctx;
	(void)worker;
	int o0 = (int)i * ROWS_PER_TASK, o1 = o0 + ROWS_PER_TASK;
	k->rows(k->j, o0, o1 < k->j->OC ? o1 : k->j->OC);
}

int matvec_nf4_q8_forward(float *out, const float *x, const uint8_t *packed, const float *absmax,
                          const float *code, size_t blocksize, int T, int C, int OC, float beta,
                          int n_threads)
{
	(void)blocksize; /* 64: matvec_nf4_q8_applies */
	size_t nx = (size_t)T * C;
	/* xq, then dx and xc (nx is a multiple of 64: both aligned) */
	int8_t *xq = malloc(nx + nx / QB * sizeof(float) + nx / QB * 8 * sizeof(int32_t));
	if (!xq)
		return -1;
	float *dx = (float *)(void *)(xq + nx);
	int32_t *xc = (int32_t *)(void *)(dx + nx / QB);
	for (int t = 0; t < T; t++)
		quantize_row(x + (size_t)t * C, C, xq + (size_t)t * C, dx + (size_t)t * (C / QB));
	struct q8job j = { .out = out, .xq = xq, .dx = dx, .xc = xc, .packed = packed,
	                   .absmax = absmax, .T = T, .C = C, .OC = OC, .beta = beta };
	for (int i = 0; i < 16; i++)
		j.kq[i] = (int8_t)lrintf(127.0f * code[i]);
	struct q8task k = { &j, rows_ref };
#if defined(__x86_64__) && defined(__GNUC__)
	if (matvec_nf4_path_now() >= MATVEC_NF4_AVX2)
		k.rows = rows_avx2;
	if (matvec_nf4_path_now() == MATVEC_NF4_AVX512 &&
	    matvec_nf4_cpu_has(MATVEC_NF4_CAP_VNNI)) {
		for (int t = 0; t < T; t++)
			lane_sums(xq + (size_t)t * C, C, xc + (size_t)t * (C / QB) * 8);
		k.rows = rows_vnni;
	}
#endif
	size_t tasks = ((size_t)OC + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
	if (n_threads <= 0)
		n_threads = qt_pool_default_threads();
	if (n_threads == 1 || tasks == 1)
		for (size_t i = 0; i < tasks; i++)
			task(&k, i, 0);
	else
		qt_pool_for(n_threads, tasks, task, &k);
	free(xq);
	return 0;
}
