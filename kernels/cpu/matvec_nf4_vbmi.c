/* qlora-tools: ISC license. */
/*
 * The decode rows of matvec_nf4_forward (one row of x) for bf16 tables on a CPU with AVX-512 BW,
 * DQ, VL, VBMI, BF16 and GFNI: rows256b's byte lookups (kernels/cpu/matvec_nf4.c) on two rows of
 * the weight at once, one in each 256-bit half of a zmm register. Every output is the same chain
 * of f32 FMAs as in rows256b (lanes bf16_pos, two 8-lane accumulators s0 and s1 per output, the
 * same pairwise combination), so results are bit-identical to the reference. rows256b takes one
 * row at a time, and its two FMA chains bound it; four rows here give four chains. A pair's block
 * tables are one VCVTNE2PS2BF16 and two byte permutes (rows256b: some 15 operations a row).
 * x is read duplicated (MATVEC_NF4_ORDER_BF16X2: plain loads, no broadcasts) and the nibbles come
 * from one GF2P8AFFINEQB. Measured on AMD Zen 5 in a VM, whose 512-bit operations issue at half
 * the rate of 256-bit ones: 3.6 cycles per 16 weights in cache against rows256b's 4.8; a 7B token
 * in 0.40 s against 0.51-0.52 on one thread, 0.23 s against 0.27 on two
 * (tests/bench/nf4-decode-bench.sh). Counting there, the FMAs (2 of the 256-bit issue slots per
 * 16 weights), the lookups (pshufb, unpack, shift: about 4) and the tables (about 1.3) fill the
 * two shuffle/FMA pipes: that, not memory, bounds the exact path (llama.cpp's Q4_0 int8 dots take
 * 2.4 cycles per 16 weights).
 */
#include "kernels/cpu/matvec_nf4.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define VBMI_TARGET "avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi,avx512bf16,gfni"

/* The 16 values of a block (maximum at am) times code, rounded to bf16 as the reference rounds
 * them (qt_f32_to_bf16: nearest even, NaN to 0x7FC0), in bytes 2 and 3 of each lane; the low
 * half is left as the rounding leaves it (only bytes 2, 3 are read). No call, even for a
 * non-finite maximum: a call would make the compiler keep the accumulators in memory. */
__attribute__((target(VBMI_TARGET), always_inline)) static inline __m512i
block_values(const float *code, const float *am)
{
	__m512 v = _mm512_mul_ps(_mm512_loadu_ps(code), _mm512_set1_ps(*am));
	__m512i u = _mm512_castps_si512(v);
	u = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)),
	                     _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1)));
	return _mm512_mask_mov_epi32(u, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q),
	                             _mm512_set1_epi32(0x7FC00000));
}

/* The tables of a pair of rows for their blocks at amA, amB: *b2 bytes 2, *b3 bytes 3 of the 16
 * values, row A's in 128-bit lanes 0 and 1, row B's in lanes 2 and 3 (byte q of a lane: code q).
 * With both maxima in [2^-100, 2^128) the products are normal and VCVTNE2PS2BF16's rounding
 * (nearest even; it flushes subnormals and quiets NaN otherwise) is the reference's: one
 * conversion and one byte permute per table; else the rounding in integer arithmetic. */
__attribute__((target(VBMI_TARGET), always_inline)) static inline void
pair_tables(const float *code, const float *amA, const float *amB, __m512i *b2, __m512i *b3)
{
	uint32_t ea, eb;
	memcpy(&ea, amA, 4), memcpy(&eb, amB, 4);
	ea = (ea >> 23) & 0xFF, eb = (eb >> 23) & 0xFF;
	if (__builtin_expect(ea >= 27 && ea < 255 && eb >= 27 && eb < 255, 1)) {
		__m512 c = _mm512_loadu_ps(code);
		__m512i w = (__m512i)_mm512_cvtne2ps_pbh(_mm512_mul_ps(c, _mm512_set1_ps(*amB)),
		                                         _mm512_mul_ps(c, _mm512_set1_ps(*amA)));
		/* byte i: lane L = i / 16, k = i % 16: the low byte of word k of A (L < 2) or of word
		 * 16 + k (B) */
		const __m512i idx = _mm512_set_epi8(
			62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32,
			62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32,
			30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0,
			30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
		*b2 = _mm512_permutexvar_epi8(idx, w);
		*b3 = _mm512_permutexvar_epi8(_mm512_add_epi8(idx, _mm512_set1_epi8(1)), w);
		return;
	}
	__m512i a = block_values(code, amA), b = block_values(code, amB);
	/* byte i: lane L = i / 16, value k = i % 16 of A (L < 2) or B (index 64 + ...), byte 2 */
	const __m512i idx2 = _mm512_set_epi8(
		126, 122, 118, 114, 110, 106, 102, 98, 94, 90, 86, 82, 78, 74, 70, 66,
		126, 122, 118, 114, 110, 106, 102, 98, 94, 90, 86, 82, 78, 74, 70, 66,
		62, 58, 54, 50, 46, 42, 38, 34, 30, 26, 22, 18, 14, 10, 6, 2,
		62, 58, 54, 50, 46, 42, 38, 34, 30, 26, 22, 18, 14, 10, 6, 2);
	*b2 = _mm512_permutex2var_epi8(a, idx2, b);
	*b3 = _mm512_permutex2var_epi8(a, _mm512_add_epi8(idx2, _mm512_set1_epi8(1)), b);
}

/* Weights c..c+31 of rows A (codes at pa) and B (pb), as four zmm of f32: *w0 and *w1 group c
 * (positions bf16_pos 0-7 and 8-15), *w2 and *w3 group c + 16; A in lanes 0-7, B in 8-15. */
__attribute__((target(VBMI_TARGET), always_inline)) static inline void
pair_lookup(const uint8_t *pa, const uint8_t *pb, __m512i b2, __m512i b3, __m512 *w)
{
	/* each row's 16 bytes in both lanes of its half: the high nibbles (even positions) read
	 * in the lower lane, the low nibbles in the upper, as in rows256b; one GF2P8AFFINEQB takes
	 * them (a GF(2) bit matrix per qword: byte >> 4 in lanes 0 and 2, byte & 15 in 1 and 3;
	 * byte 7 - i of a matrix picks the input bits of output bit i), where a shift by lane and
	 * a mask measured 5% slower */
	const __m512i nibble = _mm512_set_epi64(
		0x0102040800000000LL, 0x0102040800000000LL, 0x1020408000000000LL, 0x1020408000000000LL,
		0x0102040800000000LL, 0x0102040800000000LL, 0x1020408000000000LL, 0x1020408000000000LL);
	__m256i qa = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)pa));
	__m256i qb = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)pb));
	__m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(qa), qb, 1);
	q = _mm512_gf2p8affine_epi64_epi8(q, nibble, 0);
	__m512i l = _mm512_shuffle_epi8(b2, q), h = _mm512_shuffle_epi8(b3, q);
	__m512i v0 = _mm512_unpacklo_epi8(l, h), v1 = _mm512_unpackhi_epi8(l, h); /* bf16 pairs */
	const __m512i hi16 = _mm512_set1_epi32((int)0xFFFF0000u);
	w[0] = _mm512_castsi512_ps(_mm512_slli_epi32(v0, 16));
	w[1] = _mm512_castsi512_ps(_mm512_and_si512(v0, hi16));
	w[2] = _mm512_castsi512_ps(_mm512_slli_epi32(v1, 16));
	w[3] = _mm512_castsi512_ps(_mm512_and_si512(v1, hi16));
}

/* One step of 32 weights of a pair of rows into its accumulators (x0..x3: x at c, c + 8, c + 16,
 * c + 24 in both halves), in rows256b's order. */
__attribute__((target(VBMI_TARGET), always_inline)) static inline void
pair_step(const uint8_t *pa, const uint8_t *pb, __m512i b2, __m512i b3, const __m512 *xv,
          __m512 *s0, __m512 *s1)
{
	__m512 w[4];
	pair_lookup(pa, pb, b2, b3, w);
	*s0 = _mm512_fmadd_ps(xv[0], w[0], *s0);
	*s1 = _mm512_fmadd_ps(xv[1], w[1], *s1);
	*s0 = _mm512_fmadd_ps(xv[2], w[2], *s0);
	*s1 = _mm512_fmadd_ps(xv[3], w[3], *s1);
}

/* Stores the outputs of rows o (lanes 0-7 of s0, s1) and, unless it is o, ob (lanes 8-15).
 * Not inlined: inlined, GCC 12 kept the accumulators in the stack array they are stored to
 * here, for the whole loop (a store and a load in every FMA chain, 1.2x slower). */
__attribute__((target(VBMI_TARGET), noinline)) static void
pair_store(const struct matvec_nf4_args *j, int o, int ob, __m512 s0, __m512 s1)
{
	float lanes[16];
	for (int r = 0; r < (ob != o ? 2 : 1); r++) {
		_mm256_storeu_ps(lanes, r ? _mm512_extractf32x8_ps(s0, 1) : _mm512_castps512_ps256(s0));
		_mm256_storeu_ps(lanes + 8,
		                 r ? _mm512_extractf32x8_ps(s1, 1) : _mm512_castps512_ps256(s1));
		matvec_nf4_store_bf16_lanes(j, 0, r ? ob : o, lanes);
	}
}

/* Rows o..o+3 (two pairs, four independent pairs of FMA chains; quad 0: rows o and ob only,
 * ob == o for a row on its own, computed twice and stored once) times the one row of x
 * (MATVEC_NF4_ORDER_BF16X2); needs whole blocks per row and an even number of groups of 16 per
 * block. */
__attribute__((target(VBMI_TARGET), always_inline)) static inline void
rows_nt(const struct matvec_nf4_args *j, int o, int ob, const int quad)
{
	const size_t C = (size_t)j->C, bs = j->blocksize, bpr = C / bs;
	const uint8_t *p = j->packed + (size_t)o * C / 2;
	const float *x = j->x, *am = j->absmax + (size_t)o * bpr;
	__m512 s0 = _mm512_setzero_ps(), s1 = s0, t0 = s0, t1 = s0;
	for (size_t c = 0; c < C; c += bs, am++) {
		__m512i b2, b3, d2 = _mm512_setzero_si512(), d3 = d2;
		pair_tables(j->code, am, am + (size_t)(ob - o) * bpr, &b2, &b3);
		if (quad)
			pair_tables(j->code, am + 2 * bpr, am + 3 * bpr, &d2, &d3);
		for (size_t e = c; e < c + bs; e += 32) {
			const uint8_t *pa = p + e / 2;
			__m512 xv[4];
			#pragma GCC unroll 4
			for (int k = 0; k < 4; k++)
				xv[k] = _mm512_loadu_ps(x + 2 * e + 16 * k);
			if ((e & 127) == 0) { /* a cache line of codes ahead of each stream */
				const int n = quad ? 4 : 2; /* the next rows' codes, at this offset */
				for (int r = n; r < 2 * n; r++)
					_mm_prefetch((const char *)(pa + r * C / 2), _MM_HINT_T0);
			}
			pair_step(pa, pa + (size_t)(ob - o) * C / 2, b2, b3, xv, &s0, &s1);
			if (quad)
				pair_step(pa + C, pa + 3 * C / 2, d2, d3, xv, &t0, &t1);
		}
	}
	pair_store(j, o, ob, s0, s1);
	if (quad)
		pair_store(j, o + 2, o + 3, t0, t1);
}

__attribute__((target(VBMI_TARGET))) void matvec_nf4_rows_vbmi(const struct matvec_nf4_args *j,
                                                               int o0, int o1)
{
	int o = o0;
	for (; o + 4 <= o1; o += 4)
		rows_nt(j, o, o + 1, 1);
	for (; o < o1; o += 2)
		rows_nt(j, o, o + 1 < o1 ? o + 1 : o, 0);
}
#else
void matvec_nf4_rows_vbmi(const struct matvec_nf4_args *j, int o0, int o1)
{
	(void)j, (void)o0, (void)o1;
}
#endif
