/* qlora-tools: ISC license. */
/*
 * The fast NF4 rows of matvec_nf4_forward (kernels/matvec.h): the packed codes are read once,
 * dequantized in registers and multiplied into the T rows of x, never written out as f32 rows.
 * Results are bit-identical to the reference in matvec.c (a row dequantized by
 * nf4_dequantize_rows, cast as round_to says, then dot_avx2): per block of the weight the 16
 * possible values f32(code[q] * absmax) with the same cast are computed once (a table), each
 * element is a table lookup, and the products are summed in dot_avx2's 16 lanes, in its order,
 * with the same pairwise combination. Needs C % 16 == 0 (a row then starts on a byte and no
 * group of 16 elements spans two blocks, blocksize being a multiple of 16); matvec.c uses the
 * reference otherwise. Chosen at run time: AVX-512F, else AVX2+FMA+F16C, else none.
 */
#include "kernels/cpu/matvec_nf4.h"

#include <math.h>

#include "common/half.h"

#define TG 4 /* rows of x per pass over a weight row (their accumulators stay in registers) */

/* The 16 values of a block with maximum a, cast as round_to says: the scalar form, for the
 * rare non-finite a (NaN handling as common/half.h). */
static void table_scalar(const float *code, float a, int round_to, float *tbl)
{
	for (int q = 0; q < 16; q++) {
		float v = code[q] * a;
		tbl[q] = round_to == 1 ? qt_bf16_to_f32(qt_f32_to_bf16(v))
		       : round_to == 2 ? qt_f16_to_f32(qt_f32_to_f16(v)) : v;
	}
}

/* The sum of 16 lane values as dot_avx2 combines them. */
static float combine16(float *t)
{
	for (int w = 8; w > 0; w /= 2)
		for (int k = 0; k < w; k++)
			t[k] += t[k + w];
	return t[0];
}

static void store(const struct matvec_nf4_args *j, int t, int o, float v)
{
	float *dst = j->out + (size_t)t * j->OC + o;
	*dst = j->beta != 0.0f ? *dst + v : v;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* ---- AVX-512F: one 16-lane accumulator per row of x ---- */

__attribute__((target("avx512f"))) static __m512 table512(const float *code, float a,
                                                          int round_to)
{
	if (!isfinite(a)) {
		float t[16];
		table_scalar(code, a, round_to, t);
		return _mm512_loadu_ps(t);
	}
	__m512 v = _mm512_mul_ps(_mm512_loadu_ps(code), _mm512_set1_ps(a));
	if (round_to == 1) { /* round to nearest even on the low 16 bits */
		__m512i u = _mm512_castps_si512(v);
		__m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
		u = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
		v = _mm512_castsi512_ps(_mm512_and_si512(u, _mm512_set1_epi32((int)0xFFFF0000u)));
	} else if (round_to == 2) {
		v = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	}
	return v;
}

/* Rows o0..o1 for rows t0..t0+NT of x; NT a constant after inlining. */
__attribute__((target("avx512f"), always_inline)) static inline void
rows512_nt(const struct matvec_nf4_args *j, int o0, int o1, int t0, const int NT)
{
	/* lane 2k takes the high nibble of byte k, lane 2k+1 the low one (the permute reads only
	 * the low 4 bits of each index: no mask needed) */
	const __m512i shift = _mm512_set_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
	const size_t C = (size_t)j->C, bs = j->blocksize;
	for (int o = o0; o < o1; o++) {
		size_t e0 = (size_t)o * C;
		const uint8_t *p = j->packed + e0 / 2;
		const float *x = j->x + (size_t)t0 * C;
		__m512 acc[TG];
		for (int k = 0; k < NT; k++)
			acc[k] = _mm512_setzero_ps();
		for (size_t c = 0; c < C;) {
			size_t b = (e0 + c) / bs, end = (b + 1) * bs - e0;
			if (end > C)
				end = C;
			__m512 tbl = table512(j->code, j->absmax[b], j->round_to);
			for (; c < end; c += 16) {
				__m128i by = _mm_loadl_epi64((const __m128i *)(const void *)(p + c / 2));
				__m512i q = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(by, by));
				q = _mm512_srlv_epi32(q, shift);
				__m512 w = _mm512_permutexvar_ps(q, tbl);
				for (int k = 0; k < NT; k++)
					acc[k] = _mm512_fmadd_ps(_mm512_loadu_ps(x + k * C + c), w, acc[k]);
			}
		}
		for (int k = 0; k < NT; k++) {
			float t[16];
			_mm512_storeu_ps(t, acc[k]);
			store(j, t0 + k, o, combine16(t));
		}
	}
}

__attribute__((target("avx512f"))) static void rows512(const struct matvec_nf4_args *j, int o0,
                                                       int o1)
{
	for (int t0 = 0; t0 < j->T; t0 += TG) {
		switch (j->T - t0) {
		case 1:  rows512_nt(j, o0, o1, t0, 1); break;
		case 2:  rows512_nt(j, o0, o1, t0, 2); break;
		case 3:  rows512_nt(j, o0, o1, t0, 3); break;
		default: rows512_nt(j, o0, o1, t0, TG); break;
		}
	}
}

/* ---- AVX2+FMA+F16C: two 8-lane accumulators per row of x (dot_avx2's s0, s1) ---- */

__attribute__((target("avx2,fma,f16c"))) static __m256 round256(__m256 v, int round_to)
{
	if (round_to == 1) {
		__m256i u = _mm256_castps_si256(v);
		__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
		u = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF)));
		v = _mm256_castsi256_ps(_mm256_and_si256(u, _mm256_set1_epi32((int)0xFFFF0000u)));
	} else if (round_to == 2) {
		v = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	}
	return v;
}

/* Codes 0..7 of a block into *lo, 8..15 into *hi. */
__attribute__((target("avx2,fma,f16c"))) static void table256(const float *code, float a,
                                                              int round_to, __m256 *lo,
                                                              __m256 *hi)
{
	if (!isfinite(a)) {
		float t[16];
		table_scalar(code, a, round_to, t);
		*lo = _mm256_loadu_ps(t);
		*hi = _mm256_loadu_ps(t + 8);
		return;
	}
	__m256 va = _mm256_set1_ps(a);
	*lo = round256(_mm256_mul_ps(_mm256_loadu_ps(code), va), round_to);
	*hi = round256(_mm256_mul_ps(_mm256_loadu_ps(code + 8), va), round_to);
}

/* The 8 weights whose codes are the high, low, high, ... nibbles of the 8 bytes of b (each
 * packed byte twice). The permutes read the low 3 bits of an index, the blend bit 3: no mask. */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256
lookup256(__m128i b, __m256 lo, __m256 hi)
{
	const __m256i shift = _mm256_set_epi32(0, 4, 0, 4, 0, 4, 0, 4);
	__m256i q = _mm256_srlv_epi32(_mm256_cvtepu8_epi32(b), shift);
	__m256 wl = _mm256_permutevar8x32_ps(lo, q), wh = _mm256_permutevar8x32_ps(hi, q);
	return _mm256_blendv_ps(wl, wh, _mm256_castsi256_ps(_mm256_slli_epi32(q, 28)));
}

__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
rows256_nt(const struct matvec_nf4_args *j, int o0, int o1, int t0, const int NT)
{
	const size_t C = (size_t)j->C, bs = j->blocksize;
	for (int o = o0; o < o1; o++) {
		size_t e0 = (size_t)o * C;
		const uint8_t *p = j->packed + e0 / 2;
		const float *x = j->x + (size_t)t0 * C;
		__m256 s0[TG], s1[TG];
		for (int k = 0; k < NT; k++)
			s0[k] = s1[k] = _mm256_setzero_ps();
		for (size_t c = 0; c < C;) {
			size_t b = (e0 + c) / bs, end = (b + 1) * bs - e0;
			if (end > C)
				end = C;
			__m256 lo, hi;
			table256(j->code, j->absmax[b], j->round_to, &lo, &hi);
			for (; c < end; c += 16) {
				__m128i by = _mm_loadl_epi64((const __m128i *)(const void *)(p + c / 2));
				by = _mm_unpacklo_epi8(by, by);
				__m256 w0 = lookup256(by, lo, hi), w1 = lookup256(_mm_srli_si128(by, 8), lo, hi);
				for (int k = 0; k < NT; k++) {
					s0[k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k * C + c), w0, s0[k]);
					s1[k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k * C + c + 8), w1, s1[k]);
				}
			}
		}
		for (int k = 0; k < NT; k++) {
			float t[16];
			_mm256_storeu_ps(t, s0[k]);
			_mm256_storeu_ps(t + 8, s1[k]);
			store(j, t0 + k, o, combine16(t));
		}
	}
}

__attribute__((target("avx2,fma,f16c"))) static void rows256(const struct matvec_nf4_args *j,
                                                             int o0, int o1)
{
	for (int t0 = 0; t0 < j->T; t0 += TG) {
		switch (j->T - t0) {
		case 1:  rows256_nt(j, o0, o1, t0, 1); break;
		case 2:  rows256_nt(j, o0, o1, t0, 2); break;
		case 3:  rows256_nt(j, o0, o1, t0, 3); break;
		default: rows256_nt(j, o0, o1, t0, TG); break;
		}
	}
}

static enum matvec_nf4_path cpu_best(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return MATVEC_NF4_AVX512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	    __builtin_cpu_supports("f16c"))
		return MATVEC_NF4_AVX2;
	return MATVEC_NF4_REF;
}
#else
static enum matvec_nf4_path cpu_best(void)
{
	return MATVEC_NF4_REF;
}
#endif

static enum matvec_nf4_path path_limit = MATVEC_NF4_AVX512;

enum matvec_nf4_path matvec_nf4_path_best(void)
{
	return cpu_best();
}

void matvec_nf4_path_limit(enum matvec_nf4_path p)
{
	path_limit = p;
}

matvec_nf4_rows_fn matvec_nf4_rows_pick(int C, size_t blocksize)
{
	enum matvec_nf4_path p = cpu_best();
	if (p > path_limit)
		p = path_limit;
	if (C % 16 != 0 || blocksize % 16 != 0)
		return NULL;
#if defined(__x86_64__) && defined(__GNUC__)
	if (p == MATVEC_NF4_AVX512)
		return rows512;
	if (p == MATVEC_NF4_AVX2)
		return rows256;
#endif
	return NULL;
}
