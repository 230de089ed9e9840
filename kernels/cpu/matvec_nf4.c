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
 * reference otherwise. Chosen at run time: AVX-512F, else AVX2+FMA+F16C (with byte-shuffle
 * lookups for the bf16 cast), else none.
 */
#include "kernels/cpu/matvec_nf4.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/half.h"

#define TG 4 /* rows of x per pass over a weight row (their accumulators stay in registers) */

/* The AVX2 bf16 rows (rows256b): lane l of accumulator s (0: s0, 1: s1) holds position
 * bf16_pos[8 s + l] of each group of 16, as the byte lookups leave them: the high nibbles (even
 * positions) in the low 128 bits of a register, the low nibbles in the high 128 bits, and of
 * each pair of bf16 values the first widened by a shift into s0, the second by a mask into s1. */
static const int bf16_pos[16] = { 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15 };

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

void matvec_nf4_store_bf16_lanes(const struct matvec_nf4_args *j, int t, int o,
                                 const float *lanes)
{
	float d[16];
	for (int m = 0; m < 16; m++) /* back to dot_avx2's lanes */
		d[bf16_pos[m]] = lanes[m];
	store(j, t, o, combine16(d));
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <cpuid.h>

/* ---- AVX-512F: one 16-lane accumulator per row of x ---- */

/* table512 for a non-finite a: rare, kept out of line. */
__attribute__((target("avx512f"), noinline)) static __m512 table512_scalar(const float *code,
                                                                          float a, int round_to)
{
	float t[16];
	table_scalar(code, a, round_to, t);
	return _mm512_loadu_ps(t);
}

/* Inlined, as table256. */
__attribute__((target("avx512f"), always_inline)) static inline __m512
table512(const float *code, float a, int round_to)
{
	if (__builtin_expect(!isfinite(a), 0))
		return table512_scalar(code, a, round_to);
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

/* Rows o..o+NR of the weight times rows t0..t0+NT of x (NR, NT constants after inlining):
 * NR * NT independent accumulators, so the FMA latency of one lane's chain is hidden without
 * changing any output's order of summation. NR > 1 needs C % blocksize == 0 (every row starts
 * a block). */
__attribute__((target("avx512f"), always_inline)) static inline void
rows512_nt(const struct matvec_nf4_args *j, int o, int t0, const int NR, const int NT)
{
	/* The 8 bytes of 16 codes broadcast to every 64-bit lane: dword lane 2m holds bytes 0-3,
	 * lane 2m+1 bytes 4-7, and both shift by the position of element m of their dword, so lane
	 * 2m gets element m and lane 2m+1 element 8 + m (x is interleaved the same way). The
	 * permute reads only the low 4 bits of each index: no mask. No shuffle but the lookup. */
	const __m512i shift = _mm512_set_epi32(24, 24, 28, 28, 16, 16, 20, 20, 8, 8, 12, 12, 0, 0,
	                                       4, 4);
	const size_t C = (size_t)j->C, bs = j->blocksize, e0 = (size_t)o * C;
	const uint8_t *p = j->packed + e0 / 2;
	const float *x = j->x + (size_t)t0 * C, *am = j->absmax + e0 / bs;
	size_t off = e0 % bs, bpr = C / bs; /* bpr: blocks per row, when NR > 1 */
	__m512 acc[4][TG];
	#pragma GCC unroll 4
	for (int r = 0; r < NR; r++)
		#pragma GCC unroll 4
		for (int k = 0; k < NT; k++)
			acc[r][k] = _mm512_setzero_ps();
	for (size_t c = 0; c < C; am++) {
		size_t end = c + bs - off < C ? c + bs - off : C;
		off = 0;
		__m512 tbl[4];
		#pragma GCC unroll 4
		for (int r = 0; r < NR; r++)
			tbl[r] = table512(j->code, am[r * bpr], j->round_to);
		for (; c < end; c += 16) {
			__m512 xv[TG];
			#pragma GCC unroll 4
			for (int k = 0; k < NT; k++)
				xv[k] = _mm512_loadu_ps(x + k * C + c);
			#pragma GCC unroll 4
			for (int r = 0; r < NR; r++) {
				uint64_t b8;
				if ((c & 127) == 0) /* a cache line of codes ahead of the streams */
					_mm_prefetch((const char *)(p + r * C / 2 + c / 2) + 768, _MM_HINT_T0);
				memcpy(&b8, p + r * C / 2 + c / 2, 8);
				__m512i q = _mm512_srlv_epi32(_mm512_set1_epi64((long long)b8), shift);
				__m512 w = _mm512_permutexvar_ps(q, tbl[r]);
				#pragma GCC unroll 4
				for (int k = 0; k < NT; k++)
					acc[r][k] = _mm512_fmadd_ps(xv[k], w, acc[r][k]);
			}
		}
	}
	#pragma GCC unroll 4
	for (int r = 0; r < NR; r++)
		#pragma GCC unroll 4
		for (int k = 0; k < NT; k++) {
			float a[16], t[16];
			_mm512_storeu_ps(a, acc[r][k]);
			for (int m = 0; m < 8; m++) /* back to dot_avx2's lanes */
				t[m] = a[2 * m], t[8 + m] = a[2 * m + 1];
			store(j, t0 + k, o + r, combine16(t));
		}
}

__attribute__((target("avx512f"))) static void rows512(const struct matvec_nf4_args *j, int o0,
                                                       int o1)
{
	int o = o0;
	if (j->T == 1 && j->C % j->blocksize == 0) /* one row of x: 4 rows of W at a time */
		for (; o + 4 <= o1; o += 4)
			rows512_nt(j, o, 0, 4, 1);
	for (; o < o1; o++)
		for (int t0 = 0; t0 < j->T; t0 += TG) {
			switch (j->T - t0) {
			case 1:  rows512_nt(j, o, t0, 1, 1); break;
			case 2:  rows512_nt(j, o, t0, 1, 2); break;
			case 3:  rows512_nt(j, o, t0, 1, 3); break;
			default: rows512_nt(j, o, t0, 1, TG); break;
			}
		}
}

/* ---- AVX2+FMA+F16C: two 8-lane accumulators per row of x (dot_avx2's s0, s1) ---- */

__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256
round256(__m256 v, int round_to)
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

/* table256 for a non-finite a: rare, kept out of line. */
__attribute__((target("avx2,fma,f16c"), noinline)) static void table256_scalar(const float *code,
                                                                               float a,
                                                                               int round_to,
                                                                               __m256 *lo,
                                                                               __m256 *hi)
{
	float t[16];
	table_scalar(code, a, round_to, t);
	*lo = _mm256_loadu_ps(t);
	*hi = _mm256_loadu_ps(t + 8);
}

/* Codes 0..7 of a block into *lo, 8..15 into *hi. Inlined: once per block of every row, a call
 * (stack frame, vzeroupper, the tables through memory) cost a quarter of the decode matvec. */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
table256(const float *code, float a, int round_to, __m256 *lo, __m256 *hi)
{
	if (__builtin_expect(!isfinite(a), 0)) {
		table256_scalar(code, a, round_to, lo, hi);
		return;
	}
	__m256 va = _mm256_set1_ps(a);
	*lo = round256(_mm256_mul_ps(_mm256_loadu_ps(code), va), round_to);
	*hi = round256(_mm256_mul_ps(_mm256_loadu_ps(code + 8), va), round_to);
}

/* The 8 weights whose codes are the 8 nibbles of the 4 bytes at p (high nibble first): the
 * dword broadcast, each lane shifted to its nibble. The permutes read the low 3 bits of an
 * index, the blend bit 3: no mask. */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256
lookup256(const uint8_t *p, __m256 lo, __m256 hi)
{
	const __m256i shift = _mm256_set_epi32(24, 28, 16, 20, 8, 12, 0, 4);
	int32_t b4;
	memcpy(&b4, p, 4);
	__m256i q = _mm256_srlv_epi32(_mm256_set1_epi32(b4), shift);
	__m256 wl = _mm256_permutevar8x32_ps(lo, q), wh = _mm256_permutevar8x32_ps(hi, q);
	return _mm256_blendv_ps(wl, wh, _mm256_castsi256_ps(_mm256_slli_epi32(q, 28)));
}

/* rows512_nt's twin: two 8-lane accumulators per output (dot_avx2's s0, s1). */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
rows256_nt(const struct matvec_nf4_args *j, int o, int t0, const int NR, const int NT)
{
	const size_t C = (size_t)j->C, bs = j->blocksize, e0 = (size_t)o * C;
	const uint8_t *p = j->packed + e0 / 2;
	const float *x = j->x + (size_t)t0 * C, *am = j->absmax + e0 / bs;
	size_t off = e0 % bs, bpr = C / bs;
	__m256 s0[4][TG], s1[4][TG];
	#pragma GCC unroll 4
	for (int r = 0; r < NR; r++)
		#pragma GCC unroll 4
		for (int k = 0; k < NT; k++)
			s0[r][k] = s1[r][k] = _mm256_setzero_ps();
	for (size_t c = 0; c < C; am++) {
		size_t end = c + bs - off < C ? c + bs - off : C;
		off = 0;
		__m256 lo[4], hi[4];
		#pragma GCC unroll 4
		for (int r = 0; r < NR; r++)
			table256(j->code, am[r * bpr], j->round_to, &lo[r], &hi[r]);
		for (; c < end; c += 16) {
			#pragma GCC unroll 4
			for (int r = 0; r < NR; r++) {
				const uint8_t *pr = p + r * C / 2 + c / 2;
				if ((c & 127) == 0) /* a cache line of codes ahead of the streams */
					_mm_prefetch((const char *)pr + 768, _MM_HINT_T0);
				__m256 w0 = lookup256(pr, lo[r], hi[r]), w1 = lookup256(pr + 4, lo[r], hi[r]);
				#pragma GCC unroll 4
				for (int k = 0; k < NT; k++) {
					s0[r][k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k * C + c), w0, s0[r][k]);
					s1[r][k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k * C + c + 8), w1, s1[r][k]);
				}
			}
		}
	}
	#pragma GCC unroll 4
	for (int r = 0; r < NR; r++)
		#pragma GCC unroll 4
		for (int k = 0; k < NT; k++) {
			float t[16];
			_mm256_storeu_ps(t, s0[r][k]);
			_mm256_storeu_ps(t + 8, s1[r][k]);
			store(j, t0 + k, o + r, combine16(t));
		}
}

__attribute__((target("avx2,fma,f16c"))) static void rows256(const struct matvec_nf4_args *j,
                                                             int o0, int o1)
{
	int o = o0;
	if (j->T == 1 && j->C % j->blocksize == 0) /* 2 rows: 16 ymm registers hold no more */
		for (; o + 2 <= o1; o += 2)
			rows256_nt(j, o, 0, 2, 1);
	for (; o < o1; o++)
		for (int t0 = 0; t0 < j->T; t0 += TG) {
			switch (j->T - t0) {
			case 1:  rows256_nt(j, o, t0, 1, 1); break;
			case 2:  rows256_nt(j, o, t0, 1, 2); break;
			case 3:  rows256_nt(j, o, t0, 1, 3); break;
			default: rows256_nt(j, o, t0, 1, TG); break;
			}
		}
}

/* ---- AVX2, bf16 cast: the lookup as byte shuffles ----
 * A bf16-rounded f32 has zero low bytes, so a block's 16 values are two 16-byte tables (their
 * bytes 2 and 3) and 32 weights cost two in-lane vpshufb lookups, two unpacks to bf16 pairs and
 * a shift and a mask per 8 to f32, where the dword lookups above cost two cross-lane permutes
 * and a blend per 8. The values, the products and every lane's order of summation are those of
 * rows256, so results stay bit-identical; the lookups leave the 16 weights of a group in the
 * lanes bf16_pos says, x is permuted the same way once per call (matvec_nf4_interleave) and the
 * lanes are put back before combining. On Zen 3 the bound is the count of vector operations
 * (one row of x: the two accumulators' FMA chains no longer are; four, in a new order of
 * summation, measured no faster), and a block's table costs nearly as many as its lookups. */

/* The code table in the order the tables are built from: lo's low lane codes 0-3, its high
 * lane 8-11; hi's 4-7 and 12-15 (rows256b copies code so once per call). */
static const int pc_order[16] = { 0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15 };

/* Bytes 2 (*b2) and 3 (*b3) of the 16 values of table256 (round_to 1) for the block maximum at
 * am, each table in both 128-bit lanes; pc: code in pc_order. Each lane of u gathers the bytes
 * of 8 values (lo's and hi's lanes hold complementary halves of the table), so two qword
 * permutes finish the tables. The rounding's low half is not cleared: only bytes 2, 3 are read. */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
table256b(const float *code, const float *pc, const float *am, __m256i *b2, __m256i *b3)
{
	__m256i lo, hi;
	uint32_t bits;
	memcpy(&bits, am, 4);
	if (__builtin_expect((bits & 0x7F800000u) == 0x7F800000u, 0)) { /* NaN or infinity */
		__m256 l, h;
		table256_scalar(code, *am, 1, &l, &h);
		lo = _mm256_castps_si256(_mm256_permute2f128_ps(l, h, 0x20));
		hi = _mm256_castps_si256(_mm256_permute2f128_ps(l, h, 0x31));
	} else { /* round256's rounding, the mask left out */
		__m256 va = _mm256_broadcast_ss(am);
		const __m256i one = _mm256_set1_epi32(1), half = _mm256_set1_epi32(0x7FFF);
		lo = _mm256_castps_si256(_mm256_mul_ps(_mm256_loadu_ps(pc), va));
		hi = _mm256_castps_si256(_mm256_mul_ps(_mm256_loadu_ps(pc + 8), va));
		lo = _mm256_add_epi32(_mm256_add_epi32(lo, half),
		                      _mm256_and_si256(_mm256_srli_epi32(lo, 16), one));
		hi = _mm256_add_epi32(_mm256_add_epi32(hi, half),
		                      _mm256_and_si256(_mm256_srli_epi32(hi, 16), one));
	}
	/* per lane: qword 0 the bytes 2 of lo's then hi's 4 values, qword 1 their bytes 3 */
	const __m256i sl = _mm256_setr_epi8(2, 6, 10, 14, -1, -1, -1, -1, 3, 7, 11, 15, -1, -1, -1,
	                                    -1, 2, 6, 10, 14, -1, -1, -1, -1, 3, 7, 11, 15, -1, -1,
	                                    -1, -1);
	const __m256i sh = _mm256_setr_epi8(-1, -1, -1, -1, 2, 6, 10, 14, -1, -1, -1, -1, 3, 7, 11,
	                                    15, -1, -1, -1, -1, 2, 6, 10, 14, -1, -1, -1, -1, 3, 7,
	                                    11, 15);
	__m256i u = _mm256_or_si256(_mm256_shuffle_epi8(lo, sl), _mm256_shuffle_epi8(hi, sh));
	*b2 = _mm256_permute4x64_epi64(u, 0x88); /* qwords 0, 2 of u: codes 0-7, 8-15 */
	*b3 = _mm256_permute4x64_epi64(u, 0xDD);
}

/* The codes of q (the bytes of one or two groups of 16 in both lanes) as lookup indices: lane
 * 0 the high nibbles, lane 1 the low ones. */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256i
nibbles256(__m256i q)
{
	return _mm256_and_si256(_mm256_srlv_epi32(q, _mm256_setr_epi32(4, 4, 4, 4, 0, 0, 0, 0)),
	                        _mm256_set1_epi8(0x0F));
}

/* The f32 weights of the low 8 bytes of each lane of the indices q: *w0 and *w1 together
 * positions 0-15 of the group (lane order bf16_pos). hi8 takes the high 8 bytes instead (a
 * second group). */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
lookup256b(__m256i q, __m256i b2, __m256i b3, int hi8, __m256 *w0, __m256 *w1)
{
	__m256i l = _mm256_shuffle_epi8(b2, q), h = _mm256_shuffle_epi8(b3, q);
	__m256i v = hi8 ? _mm256_unpackhi_epi8(l, h) : _mm256_unpacklo_epi8(l, h); /* bf16 */
	*w0 = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
	*w1 = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xFFFF0000u)));
}

/* rows256_nt for round_to 1, x permuted by bf16_pos: two groups of 16 per step while the block
 * holds them. One row of the weight at a time: two, as rows256 takes them, spill tables and
 * accumulators out of the 16 registers and ran 1.2x slower (Zen 3). */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
rows256b_nt(const struct matvec_nf4_args *j, const float *pc, int o, int t0, const int NT)
{
	const size_t C = (size_t)j->C, bs = j->blocksize, e0 = (size_t)o * C;
	const uint8_t *p = j->packed + e0 / 2;
	const float *x = j->x + (size_t)t0 * C, *am = j->absmax + e0 / bs;
	size_t off = e0 % bs;
	__m256 s0[TG], s1[TG];
	#pragma GCC unroll 4
	for (int k = 0; k < NT; k++)
		s0[k] = s1[k] = _mm256_setzero_ps();
	for (size_t c = 0; c < C; am++) {
		size_t end = c + bs - off < C ? c + bs - off : C;
		off = 0;
		__m256i b2, b3;
		table256b(j->code, pc, am, &b2, &b3);
		for (; c + 32 <= end; c += 32) {
			if ((c & 127) == 0) /* a cache line of codes ahead of the stream */
				_mm_prefetch((const char *)(p + c / 2) + 768, _MM_HINT_T0);
			__m256i q = nibbles256(_mm256_broadcastsi128_si256(
				_mm_loadu_si128((const __m128i *)(p + c / 2))));
			__m256 w0, w1, w2, w3;
			lookup256b(q, b2, b3, 0, &w0, &w1);
			lookup256b(q, b2, b3, 1, &w2, &w3);
			#pragma GCC unroll 4
			for (int k = 0; k < NT; k++) {
				const float *xk = x + k * C + c;
				s0[k] = _mm256_fmadd_ps(_mm256_loadu_ps(xk), w0, s0[k]);
				s1[k] = _mm256_fmadd_ps(_mm256_loadu_ps(xk + 8), w1, s1[k]);
				s0[k] = _mm256_fmadd_ps(_mm256_loadu_ps(xk + 16), w2, s0[k]);
				s1[k] = _mm256_fmadd_ps(_mm256_loadu_ps(xk + 24), w3, s1[k]);
			}
		}
		if (c < end) { /* one group of 16 left in the block */
			__m256i q = nibbles256(_mm256_broadcastq_epi64(
				_mm_loadl_epi64((const __m128i *)(p + c / 2))));
			__m256 w0, w1;
			lookup256b(q, b2, b3, 0, &w0, &w1);
			#pragma GCC unroll 4
			for (int k = 0; k < NT; k++) {
				const float *xk = x + k * C + c;
				s0[k] = _mm256_fmadd_ps(_mm256_loadu_ps(xk), w0, s0[k]);
				s1[k] = _mm256_fmadd_ps(_mm256_loadu_ps(xk + 8), w1, s1[k]);
			}
			c += 16;
		}
	}
	#pragma GCC unroll 4
	for (int k = 0; k < NT; k++) {
		float a[16];
		_mm256_storeu_ps(a, s0[k]);
		_mm256_storeu_ps(a + 8, s1[k]);
		matvec_nf4_store_bf16_lanes(j, t0 + k, o, a);
	}
}

/* rows256b_nt for one row of x and whole blocks of 64 (quantize-nf4's, bitsandbytes'
 * default), the block's two steps unrolled and the next block's table made before this
 * block's lookups, so that its latency (a chain of some 12 operations) overlaps them. */
__attribute__((target("avx2,fma,f16c"))) static void row256b_64(const struct matvec_nf4_args *j,
                                                                const float *pc, int o)
{
	const size_t C = (size_t)j->C, e0 = (size_t)o * C;
	const uint8_t *p = j->packed + e0 / 2;
	const float *x = j->x, *am = j->absmax + e0 / 64;
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	__m256i b2, b3;
	table256b(j->code, pc, am, &b2, &b3);
	for (size_t c = 0; c < C; c += 64) {
		__m256i n2 = b2, n3 = b3;
		if (c + 64 < C)
			table256b(j->code, pc, am + c / 64 + 1, &n2, &n3);
		if ((c & 127) == 0) /* a cache line of codes ahead of the stream */
			_mm_prefetch((const char *)(p + c / 2) + 768, _MM_HINT_T0);
		#pragma GCC unroll 2
		for (int h = 0; h < 64; h += 32) {
			__m256i q = nibbles256(_mm256_broadcastsi128_si256(
				_mm_loadu_si128((const __m128i *)(p + (c + h) / 2))));
			__m256 w0, w1, w2, w3;
			lookup256b(q, b2, b3, 0, &w0, &w1);
			lookup256b(q, b2, b3, 1, &w2, &w3);
			const float *xk = x + c + h;
			s0 = _mm256_fmadd_ps(_mm256_loadu_ps(xk), w0, s0);
			s1 = _mm256_fmadd_ps(_mm256_loadu_ps(xk + 8), w1, s1);
			s0 = _mm256_fmadd_ps(_mm256_loadu_ps(xk + 16), w2, s0);
			s1 = _mm256_fmadd_ps(_mm256_loadu_ps(xk + 24), w3, s1);
		}
		b2 = n2, b3 = n3;
	}
	float a[16];
	_mm256_storeu_ps(a, s0);
	_mm256_storeu_ps(a + 8, s1);
	matvec_nf4_store_bf16_lanes(j, 0, o, a);
}

__attribute__((target("avx2,fma,f16c"))) static void
rows256b(const struct matvec_nf4_args *j, int o0, int o1)
{
	float pc[16];
	for (int i = 0; i < 16; i++)
		pc[i] = j->code[pc_order[i]];
	if (j->T == 1 && j->blocksize == 64 && j->C % 64 == 0) {
		for (int o = o0; o < o1; o++)
			row256b_64(j, pc, o);
		return;
	}
	for (int o = o0; o < o1; o++)
		for (int t0 = 0; t0 < j->T; t0 += TG) {
			switch (j->T - t0) {
			case 1:  rows256b_nt(j, pc, o, t0, 1); break;
			case 2:  rows256b_nt(j, pc, o, t0, 2); break;
			case 3:  rows256b_nt(j, pc, o, t0, 3); break;
			default: rows256b_nt(j, pc, o, t0, TG); break;
			}
		}
}

/* Rows [r0, r1) dequantized and cast into out, 16 values per step (in order: the dword
 * lookups of the AVX2 rows, on either path; writing f32 is the bound, not the lookup). */
__attribute__((target("avx2,fma,f16c"))) static void dequant256(const struct matvec_nf4_args *j,
                                                                size_t r0, size_t r1, float *out)
{
	const size_t C = (size_t)j->C, bs = j->blocksize, e1 = r1 * C;
	size_t e = r0 * C, off = e % bs;
	const float *am = j->absmax + e / bs;
	while (e < e1) {
		size_t end = e + bs - off < e1 ? e + bs - off : e1;
		off = 0;
		__m256 lo, hi;
		table256(j->code, *am++, j->round_to, &lo, &hi);
		for (; e < end; e += 16, out += 16) {
			_mm256_storeu_ps(out, lookup256(j->packed + e / 2, lo, hi));
			_mm256_storeu_ps(out + 8, lookup256(j->packed + e / 2 + 4, lo, hi));
		}
	}
}

/* clang's __builtin_cpu_supports does not know "f16c" (gcc's does): ask CPUID leaf 1. */
static int cpu_has_f16c(void)
{
	unsigned a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}

/* The best path in the low bits, MATVEC_NF4_CAP_* above them. */
static int cpu_caps_ask(void)
{
	__builtin_cpu_init();
	int caps = MATVEC_NF4_REF;
	if (__builtin_cpu_supports("avx512f"))
		caps = MATVEC_NF4_AVX512;
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	         cpu_has_f16c())
		caps = MATVEC_NF4_AVX2;
	if (caps != MATVEC_NF4_AVX512)
		return caps;
	if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi") &&
	    __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("gfni"))
		caps |= MATVEC_NF4_CAP_VBMI << 4;
	if (__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
		caps |= MATVEC_NF4_CAP_VNNI << 4;
	return caps;
}

/* Asked once: CPUID traps to the hypervisor in a virtual machine, and rows_pick runs per call
 * (it took 7% of a decode matvec of 128 rows). */
static int cpu_caps(void)
{
	static atomic_int caps = -1; /* racing first calls store the same value */
	int c = atomic_load_explicit(&caps, memory_order_relaxed);
	if (c < 0) {
		c = cpu_caps_ask();
		atomic_store_explicit(&caps, c, memory_order_relaxed);
	}
	return c;
}
#else
static int cpu_caps(void)
{
	return MATVEC_NF4_REF;
}
#endif

static enum matvec_nf4_path cpu_best(void)
{
	return (enum matvec_nf4_path)(cpu_caps() & 15);
}

int matvec_nf4_cpu_has(int cap)
{
	return (cpu_caps() >> 4 & cap) != 0;
}

static enum matvec_nf4_path path_limit = MATVEC_NF4_AVX512;

enum matvec_nf4_path matvec_nf4_path_best(void)
{
	return cpu_best();
}

void matvec_nf4_path_limit(enum matvec_nf4_path p)
{
	path_limit = p;
}

enum matvec_nf4_path matvec_nf4_path_now(void)
{
	enum matvec_nf4_path p = cpu_best();
	return p > path_limit ? path_limit : p;
}

void matvec_nf4_interleave(const float *x, int T, int C, float *xi, int order)
{
	if (order == MATVEC_NF4_ORDER_BF16X2) {
		for (size_t g = 0; g < (size_t)T * C; g += 16, xi += 32)
			for (int m = 0; m < 16; m++)
				xi[m + 8 * (m >= 8)] = xi[m + 8 * (m >= 8) + 8] = x[g + bf16_pos[m]];
		return;
	}
	if (order == MATVEC_NF4_ORDER_BF16) {
		for (size_t g = 0; g < (size_t)T * C; g += 16)
			for (int m = 0; m < 16; m++)
				xi[g + m] = x[g + bf16_pos[m]];
		return;
	}
	for (size_t g = 0; g < (size_t)T * C; g += 16)
		for (int m = 0; m < 8; m++)
			xi[g + 2 * m] = x[g + m], xi[g + 2 * m + 1] = x[g + 8 + m];
}

matvec_nf4_rows_fn matvec_nf4_rows_pick(int T, int C, size_t blocksize, int round_to,
                                        int *order)
{
	*order = MATVEC_NF4_ORDER_NONE;
	enum matvec_nf4_path p = cpu_best();
	if (p > path_limit)
		p = path_limit;
	if (C % 16 != 0 || blocksize % 16 != 0)
		return NULL;
#if defined(__x86_64__) && defined(__GNUC__)
	/* bf16 tables (the usual quant_state) have their own AVX2 rows, which a CPU with AVX-512
	 * also runs: on AMD Zen 5 they decode a 7B token in 0.54 s on one thread where rows512 takes
	 * 0.67 (tests/bench/nf4-decode-bench.sh); the bits are the same on every path */
	if (p == MATVEC_NF4_AVX512 && round_to != 1) {
		*order = MATVEC_NF4_ORDER_512;
		return rows512;
	}
	if (p >= MATVEC_NF4_AVX2 && round_to == 1) {
		if (p == MATVEC_NF4_AVX512 && matvec_nf4_cpu_has(MATVEC_NF4_CAP_VBMI) && T == 1 &&
		    C % blocksize == 0 && blocksize % 32 == 0) {
			*order = MATVEC_NF4_ORDER_BF16X2;
			return matvec_nf4_rows_vbmi; /* their twin, two rows per register */
		}
		*order = MATVEC_NF4_ORDER_BF16;
		return rows256b;
	}
	if (p == MATVEC_NF4_AVX2)
		return rows256;
#endif
	return NULL;
}

matvec_nf4_dequant_fn matvec_nf4_dequant_pick(int C, size_t blocksize)
{
	enum matvec_nf4_path p = cpu_best();
	if (p > path_limit)
		p = path_limit;
	if (C % 16 != 0 || blocksize % 16 != 0)
		return NULL;
#if defined(__x86_64__) && defined(__GNUC__)
	if (p >= MATVEC_NF4_AVX2)
		return dequant256;
#endif
	return NULL;
}
