/* qlora-tools: ISC license. */
/* bf16 GEMM for the frozen base; see kernels/gemm_bf16.h. */
#include "kernels/gemm_bf16.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "common/pool.h"
#include "kernels/cpu/kept_buffer.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BGEMM_X86 1
#endif

/*
 * Operands are packed as pairs: one uint32 holds the bf16 of k = 2p (low half) and k = 2p + 1
 * (high half), the layout VDPBF16PS multiplies (high halves first). A: panels of MR rows,
 * [panel][p][MR]; op(B): panels of NR columns, [panel][p][NR]. Padding rows, columns and the
 * odd K's last high half are zero: they add +0 to sums that are never stored.
 */
#define MR 8
#define NR 32
#define TASK_COLS 64 /* columns of op(B) per task: filled and packed once, by one worker */

static int bgemm_path; /* BGEMM_AUTO, _PORTABLE or _NATIVE */

int bgemm_native_supported(void)
{
#ifdef BGEMM_X86
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#else
	return 0;
#endif
}

int bgemm_set_path(int path)
{
	if (path == BGEMM_NATIVE && !bgemm_native_supported())
		return -1;
	bgemm_path = path;
	return 0;
}

static int use_native(void)
{
	return bgemm_path == BGEMM_NATIVE || (bgemm_path == BGEMM_AUTO && bgemm_native_supported());
}

/* f32 -> bf16 bits, nearest even, values below 2^-126 to a zero of their sign. */
static inline uint32_t to_bf16(float f)
{
	uint32_t b = qt_f32_to_bf16(f);
	return (b & 0x7F80u) ? b : b & 0x8000u;
}

/* Pair p of row x (K floats): k = 2p in the low half, k = 2p + 1 (0 past K) in the high. */
static inline uint32_t pair_at(const float *x, int p, int K)
{
	return to_bf16(x[2 * p]) | (2 * p + 1 < K ? to_bf16(x[2 * p + 1]) : 0) << 16;
}

#ifdef BGEMM_X86
/* 8 floats to their bf16 bits (as to_bf16) in the low halves of 8 dwords. */
__attribute__((target("avx2"))) static inline __m256i to_bf16_8(__m256 v)
{
	__m256i u = _mm256_castps_si256(v);
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
	__m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)),
	                                               lsb), 16);
	__m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
	r = _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7FC0), nan);
	__m256i tiny = _mm256_cmpeq_epi32(_mm256_and_si256(r, _mm256_set1_epi32(0x7F80)),
	                                  _mm256_setzero_si256());
	return _mm256_blendv_epi8(r, _mm256_and_si256(r, _mm256_set1_epi32(0x8000)), tiny);
}

/* dst[i] = pair(lo[i], hi[i]) for i < n (a multiple of 8). */
__attribute__((target("avx2"))) static void pair_rows8(uint32_t *dst, const float *lo,
                                                      const float *hi, int n)
{
	for (int i = 0; i < n; i += 8) {
		__m256i l = to_bf16_8(_mm256_loadu_ps(lo + i));
		__m256i h = hi ? to_bf16_8(_mm256_loadu_ps(hi + i)) : _mm256_setzero_si256();
		_mm256_storeu_si256((__m256i *)(dst + i), _mm256_or_si256(l, _mm256_slli_epi32(h, 16)));
	}
}

/* Pairs 0, 1, ... of row x (K floats) at dst + p * stride, 8 at a time while 16 floats are
 * left; returns how many it stored. */
__attribute__((target("avx2"))) static int pair_along8(uint32_t *dst, size_t stride,
                                                       const float *x, int K)
{
	int p = 0;
	for (; 2 * p + 16 <= K; p += 8) {
		/* 16 floats: evens and odds to the low and high halves of 8 pairs */
		__m256 a = _mm256_loadu_ps(x + 2 * p), b = _mm256_loadu_ps(x + 2 * p + 8);
		__m256i ba = to_bf16_8(a), bb = to_bf16_8(b); /* lanes: k = 2p .. 2p + 7, 2p + 8 .. */
		/* pack 16 dwords of 16-bit values into 16 words, in k order */
		__m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(ba, bb), 0xD8);
		uint32_t pr[8];
		_mm256_storeu_si256((__m256i *)pr, w);
		for (int i = 0; i < 8; i++)
			dst[(size_t)(p + i) * stride] = pr[i];
	}
	return p;
}
#endif

#ifdef BGEMM_X86
/* 16 floats to their bf16 bits (as to_bf16) in the low halves of 16 dwords. */
__attribute__((target("avx512f"))) static inline __m512i to_bf16_16(__m512 v)
{
	__m512i u = _mm512_castps_si512(v);
	__m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
	__m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)),
	                                               lsb), 16);
	r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q),
	                          _mm512_set1_epi32(0x7FC0));
	return _mm512_mask_and_epi32(r, _mm512_testn_epi32_mask(r, _mm512_set1_epi32(0x7F80)), r,
	                             _mm512_set1_epi32(0x8000));
}

/* dst[i] = pair(lo[i], hi[i]) for i < n (a multiple of 16). */
__attribute__((target("avx512f"))) static void pair_rows16(uint32_t *dst, const float *lo,
                                                          const float *hi, int n)
{
	for (int i = 0; i < n; i += 16) {
		__m512i l = to_bf16_16(_mm512_loadu_ps(lo + i));
		__m512i h = hi ? to_bf16_16(_mm512_loadu_ps(hi + i)) : _mm512_setzero_si512();
		_mm512_storeu_si512(dst + i, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
	}
}

/*
 * Rows 0..15 of src (row stride ld; rows from nrows on count as zero) as pairs, transposed:
 * pair p of row r at lo[p * stride + r] for r < 8 and at hi[p * stride + r - 8] for r >= 8
 * (hi = lo + 8 for the 16 columns of a B panel, the next panel for A's panels of 8 rows). 16
 * pairs of 16 rows at a time, turned with a 16 x 16 transpose in registers: the scalar stores
 * of pair_along were a tenth of a --bf16 step.
 */
__attribute__((target("avx512f"))) static void pair_group16(uint32_t *lo, uint32_t *hi,
                                                           size_t stride, const float *src,
                                                           size_t ld, int nrows, int K)
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
	                                      2, 0);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
	int p = 0, P = (K + 1) / 2;
	for (; 2 * p + 32 <= K; p += 16) {
		__m512i r[16], t[16];
		for (int i = 0; i < 16; i++) {
			if (i >= nrows) {
				r[i] = _mm512_setzero_si512();
				continue;
			}
			const float *x = src + (size_t)i * ld + 2 * p;
			__m512i a = to_bf16_16(_mm512_loadu_ps(x)), b = to_bf16_16(_mm512_loadu_ps(x + 16));
			__m512i e = _mm512_permutex2var_epi32(a, even, b);
			__m512i o = _mm512_permutex2var_epi32(a, odd, b);
			r[i] = _mm512_or_si512(e, _mm512_slli_epi32(o, 16));
		}
		for (int i = 0; i < 8; i++) {
			t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
			t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
		}
		for (int i = 0; i < 4; i++) {
			r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
			r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
			r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
			r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
		}
		/* r[4i + c], 128-bit lane L: rows 4i..4i+3 of pair 4L + c */
		for (int c = 0; c < 4; c++) {
			__m512i x0 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0x44);
			__m512i x1 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0xEE);
			__m512i y0 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0x44);
			__m512i y1 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0xEE);
			t[c] = _mm512_shuffle_i32x4(x0, y0, 0x88);
			t[4 + c] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
			t[8 + c] = _mm512_shuffle_i32x4(x1, y1, 0x88);
			t[12 + c] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
		}
		for (int j = 0; j < 16; j++) {
			size_t at = (size_t)(p + j) * stride;
			_mm256_storeu_si256((__m256i *)(lo + at), _mm512_castsi512_si256(t[j]));
			_mm256_storeu_si256((__m256i *)(hi + at), _mm512_extracti64x4_epi64(t[j], 1));
		}
	}
	for (; p < P; p++)
		for (int i = 0; i < 16; i++) {
			uint32_t v = i < nrows ? pair_at(src + (size_t)i * ld, p, K) : 0;
			(i < 8 ? lo : hi)[(size_t)p * stride + (i & 7)] = v;
		}
}
#endif

/* AVX-512 packing, except on BGEMM_PORTABLE: that path is then all a CPU without AVX-512
 * runs, and tests on any CPU see it. */
static int have_avx512(void)
{
#ifdef BGEMM_X86
	return bgemm_path != BGEMM_PORTABLE && __builtin_cpu_supports("avx512f");
#else
	return 0;
#endif
}

static int have_avx2(void)
{
#ifdef BGEMM_X86
	return __builtin_cpu_supports("avx2");
#else
	return 0;
#endif
}

/* Row x (K floats) as (K + 1) / 2 pairs at dst + p * stride. */
static void pair_along(uint32_t *dst, size_t stride, const float *x, int K)
{
	int p = 0;
#ifdef BGEMM_X86
	if (have_avx2())
		p = pair_along8(dst, stride, x, K);
#endif
	for (; 2 * p < K; p++)
		dst[(size_t)p * stride] = pair_at(x, p, K);
}

/* dst[i] = pair(lo[i], hi[i]) for i < n (hi NULL: zero high halves). */
static void pair_rows(uint32_t *dst, const float *lo, const float *hi, int n)
{
	int i = 0;
#ifdef BGEMM_X86
	if (have_avx512()) {
		pair_rows16(dst, lo, hi, n / 16 * 16);
		i = n / 16 * 16;
	}
	if (have_avx2()) {
		pair_rows8(dst + i, lo + i, hi ? hi + i : NULL, (n - i) / 8 * 8);
		i += (n - i) / 8 * 8;
	}
#endif
	for (; i < n; i++)
		dst[i] = to_bf16(lo[i]) | (hi ? to_bf16(hi[i]) : 0) << 16;
}

/* C (rows x cols of the block, row stride ldc) = s, or beta * C + s (beta not 0: C read). */
static void store_block(const float *acc, float *C, int ldc, int rows, int cols, float beta)
{
	for (int m = 0; m < rows; m++) {
		float *c = C + (size_t)m * ldc;
		const float *s = acc + m * NR;
		if (beta == 0.0f)
			memcpy(c, s, (size_t)cols * sizeof *c);
		else
			for (int j = 0; j < cols; j++)
				c[j] = beta * c[j] + s[j];
	}
}

/* The sums of one MR x NR block, of which rows x cols are stored into C as store_block does:
 * the three kernels below. */
static void block_scalar(const uint32_t *a, const uint32_t *b, int P, float *C, int ldc,
                         int rows, int cols, float beta)
{
	float acc[MR * NR];
	for (int i = 0; i < MR * NR; i++)
		acc[i] = 0.0f;
	for (int p = 0; p < P; p++, a += MR, b += NR)
		for (int m = 0; m < MR; m++) {
			float ah = qt_bf16_to_f32((uint16_t)(a[m] >> 16));
			float al = qt_bf16_to_f32((uint16_t)a[m]);
			for (int n = 0; n < NR; n++) {
				float s = acc[m * NR + n];
				s = s + ah * qt_bf16_to_f32((uint16_t)(b[n] >> 16));
				acc[m * NR + n] = s + al * qt_bf16_to_f32((uint16_t)b[n]);
			}
		}
	store_block(acc, C, ldc, rows, cols, beta);
}

#ifdef BGEMM_X86
__attribute__((target("avx2"))) static void block_avx2(const uint32_t *a, const uint32_t *b,
                                                      int P, float *C, int ldc, int rows,
                                                      int cols, float beta)
{
	float acc[MR * NR];
	const __m256i himask = _mm256_set1_epi32((int)0xFFFF0000u);
	for (int c = 0; c < NR; c += 8) {
		__m256 s[MR];
		for (int m = 0; m < MR; m++)
			s[m] = _mm256_setzero_ps();
		const uint32_t *ap = a, *bp = b + c;
		for (int p = 0; p < P; p++, ap += MR, bp += NR) {
			__m256i bv = _mm256_loadu_si256((const __m256i *)bp);
			__m256 bh = _mm256_castsi256_ps(_mm256_and_si256(bv, himask));
			__m256 bl = _mm256_castsi256_ps(_mm256_slli_epi32(bv, 16));
			for (int m = 0; m < MR; m++) {
				__m256i av = _mm256_set1_epi32((int)ap[m]);
				__m256 ah = _mm256_castsi256_ps(_mm256_and_si256(av, himask));
				__m256 al = _mm256_castsi256_ps(_mm256_slli_epi32(av, 16));
				/* products are exact: a fused multiply-add would round the same sum */
				s[m] = _mm256_add_ps(s[m], _mm256_mul_ps(ah, bh));
				s[m] = _mm256_add_ps(s[m], _mm256_mul_ps(al, bl));
			}
		}
		for (int m = 0; m < MR; m++)
			_mm256_storeu_ps(acc + m * NR + c, s[m]);
	}
	store_block(acc, C, ldc, rows, cols, beta);
}

/* The accumulators spelled out: gcc -O2 does not unroll a loop over them, and then keeps them
 * in memory (a load and a store around every VDPBF16PS: half the speed). */
#define DP_ROW(m)                                                                        \
	do {                                                                             \
		__m512bh av = (__m512bh)_mm512_set1_epi32((int)a[m]);                   \
		s0_##m = _mm512_dpbf16_ps(s0_##m, av, b0);                               \
		s1_##m = _mm512_dpbf16_ps(s1_##m, av, b1);                               \
	} while (0)
/* Row m of the block into C straight from the registers: no block in memory in between. The
 * product then the sum, as store_block (beta 1: C + s exactly). */
#define ST_ROW(m)                                                                        \
	do {                                                                             \
		if ((m) < rows) {                                                        \
			float *c = C + (size_t)(m) * ldc;                                \
			__m512 v0 = s0_##m, v1 = s1_##m;                                 \
			if (beta != 0.0f) {                                              \
				v0 = _mm512_add_ps(_mm512_mul_ps(bv, _mm512_maskz_loadu_ps(k0, c)), v0); \
				v1 = _mm512_add_ps(_mm512_mul_ps(bv, _mm512_maskz_loadu_ps(k1, c + 16)), \
				                   v1);                                          \
			}                                                                \
			_mm512_mask_storeu_ps(c, k0, v0);                                \
			_mm512_mask_storeu_ps(c + 16, k1, v1);                           \
		}                                                                        \
	} while (0)

__attribute__((target("avx512f,avx512bf16"))) static void block_native(const uint32_t *a,
                                                                      const uint32_t *b, int P,
                                                                      float *C, int ldc,
                                                                      int rows, int cols,
                                                                      float beta)
{
	__m512 z = _mm512_setzero_ps();
	__m512 s0_0 = z, s0_1 = z, s0_2 = z, s0_3 = z, s0_4 = z, s0_5 = z, s0_6 = z, s0_7 = z;
	__m512 s1_0 = z, s1_1 = z, s1_2 = z, s1_3 = z, s1_4 = z, s1_5 = z, s1_6 = z, s1_7 = z;
	for (int p = 0; p < P; p++, a += MR, b += NR) {
		__m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16);
		DP_ROW(0); DP_ROW(1); DP_ROW(2); DP_ROW(3);
		DP_ROW(4); DP_ROW(5); DP_ROW(6); DP_ROW(7);
	}
	__mmask16 k0 = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
	__mmask16 k1 = (__mmask16)(cols >= 32 ? 0xFFFF : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
	__m512 bv = _mm512_set1_ps(beta);
	ST_ROW(0); ST_ROW(1); ST_ROW(2); ST_ROW(3);
	ST_ROW(4); ST_ROW(5); ST_ROW(6); ST_ROW(7);
}
#endif

typedef void (*block_fn)(const uint32_t *, const uint32_t *, int, float *, int, int, int, float);

static block_fn pick_block(void)
{
#ifdef BGEMM_X86
	if (use_native())
		return block_native;
	if (have_avx2())
		return block_avx2;
#endif
	return block_scalar;
}

struct bgemm_job {
	int trans_b, M, N, K, P, ldc;
	float beta;
	const float *A;
	int lda;
	uint32_t *ap;          /* A packed, ceil(M / MR) panels */
	sgemm_fill_fn fill;    /* or B itself: */
	void *ctx;
	const float *B;
	int ldb;
	const uint32_t *packed; /* or op(B) packed whole (bgemm_pack_b) */
	float *fbuf;           /* per worker: TASK_COLS x K floats of op(B) from the fill */
	uint32_t *bbuf;        /* per worker: TASK_COLS / NR panels of op(B) packed */
	block_fn block;
	float *C;
};

/* A panel w wide ([p][w]) from w rows of src (row stride ld; from row n on, zero), a row at a
 * time: A's panels, and op(B)'s without AVX-512. */
static void panel_rows(uint32_t *dst, int w, const float *src, size_t ld, int n, int K, int P)
{
	for (int c = 0; c < w; c++)
		if (c < n)
			pair_along(dst + c, (size_t)w, src + (size_t)c * ld, K);
		else
			for (int p = 0; p < P; p++)
				dst[(size_t)p * w + c] = 0;
}

static void pack_a_panel(const struct bgemm_job *g, size_t i)
{
	panel_rows(g->ap + i * (size_t)g->P * MR, MR, g->A + i * MR * (size_t)g->lda,
	           (size_t)g->lda, g->M - (int)i * MR, g->K, g->P);
}

/* Task i: A's panels 2i and 2i + 1 (rows 16i .. 16i + 15). */
static void pack_a_task(void *ctx, size_t i, int worker)
{
	(void)worker;
	const struct bgemm_job *g = ctx;
	size_t panels = (size_t)(g->M + MR - 1) / MR;
#ifdef BGEMM_X86
	if (have_avx512() && 2 * i + 1 < panels) {
		int rows = g->M - (int)i * 16;
		pair_group16(g->ap + 2 * i * (size_t)g->P * MR, g->ap + (2 * i + 1) * (size_t)g->P * MR,
		             MR, g->A + i * 16 * (size_t)g->lda, (size_t)g->lda, rows < 16 ? rows : 16,
		             g->K);
		return;
	}
#endif
	for (size_t k = 2 * i; k < 2 * i + 2 && k < panels; k++)
		pack_a_panel(g, k);
}


/* One panel of op(B) from the rows of src that are its columns (row stride ld; from row n on,
 * zero). */
static void panel_from_rows(uint32_t *dst, const float *src, size_t ld, int n, int K, int P)
{
#ifdef BGEMM_X86
	if (have_avx512()) {
		for (int c = 0; c < NR; c += 16) {
			int rows = n - c < 0 ? 0 : n - c < 16 ? n - c : 16;
			pair_group16(dst + c, dst + c + 8, NR, rows ? src + (size_t)c * ld : src, ld, rows,
			             K);
		}
		return;
	}
#endif
	panel_rows(dst, NR, src, ld, n, K, P);
}

/* Pair p of every panel from rows lo (k = 2p) and hi (k = 2p + 1, or NULL past K) of op(B),
 * n columns; a last partial panel padded. */
static void pairs_into_panels(uint32_t *panels, size_t psz, int p, const float *lo,
                              const float *hi, int n)
{
	for (int q = 0; q * NR < n; q++) {
		uint32_t *dst = panels + q * psz + (size_t)p * NR;
		int w = n - q * NR < NR ? n - q * NR : NR;
		pair_rows(dst, lo + q * NR, hi ? hi + q * NR : NULL, w);
		for (int c = w; c < NR; c++)
			dst[c] = 0;
	}
}

/* Columns [j0, j0 + n) of op(B), read from B or filled as f32 into f, packed into panels at
 * bp. */
static void pack_b(const struct bgemm_job *g, int j0, int n, float *f, uint32_t *bp)
{
	const float *src;
	size_t ld;
	if (g->B) {
		src = g->trans_b ? g->B + (size_t)j0 * g->ldb : g->B + j0;
		ld = (size_t)g->ldb;
	} else {
		g->fill(g->ctx, j0, n, f);
		src = f;
		ld = g->trans_b ? (size_t)g->K : (size_t)n;
	}
	size_t psz = (size_t)g->P * NR;
	if (g->trans_b) { /* op(B)'s columns are rows of src */
		for (int q = 0; q * NR < n; q++)
			panel_from_rows(bp + q * psz, src + (size_t)q * NR * ld, ld, n - q * NR, g->K,
			                g->P);
		return;
	}
	for (int p = 0; p < g->P; p++) { /* src: K rows of n */
		const float *lo = src + (size_t)(2 * p) * ld;
		pairs_into_panels(bp, psz, p, lo, 2 * p + 1 < g->K ? lo + ld : NULL, n);
	}
}

static void col_task(void *ctx, size_t t, int worker)
{
	const struct bgemm_job *g = ctx;
	int j0 = (int)t * TASK_COLS, n = g->N - j0 < TASK_COLS ? g->N - j0 : TASK_COLS;
	float *f = g->fbuf + (size_t)worker * TASK_COLS * (size_t)(g->K > 0 ? g->K : 1);
	const uint32_t *bp;
	if (g->packed) {
		bp = g->packed + (size_t)(j0 / NR) * g->P * NR;
	} else {
		uint32_t *mine = g->bbuf + (size_t)worker * TASK_COLS * (size_t)g->P;
		pack_b(g, j0, n, f, mine);
		bp = mine;
	}
	int panels = (n + NR - 1) / NR;
	for (int r = 0; r < (g->M + MR - 1) / MR; r++) {
		const uint32_t *ap = g->ap + (size_t)r * g->P * MR;
		int rows = g->M - r * MR < MR ? g->M - r * MR : MR;
		for (int q = 0; q < panels; q++) {
			int cols = n - q * NR < NR ? n - q * NR : NR;
			g->block(ap, bp + (size_t)q * g->P * NR, g->P,
			         g->C + (size_t)r * MR * g->ldc + j0 + q * NR, g->ldc, rows, cols, g->beta);
		}
	}
}

/* The buffers of a product (A packed, and per worker a fill tile and its packed panels): one
 * block kept between calls (allocating them per call: 4% of a --bf16 step in page faults). */
static struct kept_buffer kept = KEPT_BUFFER_INIT;

static int run(struct bgemm_job *g)
{
	int M = g->M, N = g->N, K = g->K, P = g->P;
	if (M <= 0 || N <= 0)
		return 0;
	int tasks = (N + TASK_COLS - 1) / TASK_COLS;
	int threads = sgemm_threads();
	threads = threads < tasks ? threads : tasks;
	threads = threads > 0 ? threads : 1;
	size_t panels_a = (size_t)(M + MR - 1) / MR, pp = (size_t)(P > 0 ? P : 1);
	size_t na = panels_a * pp * MR * sizeof(uint32_t);
	size_t nf = g->B || g->packed ? 0
	            : (size_t)threads * TASK_COLS * (size_t)(K > 0 ? K : 1) * sizeof(float);
	size_t nb = g->packed ? 0 : (size_t)threads * TASK_COLS * pp * sizeof(uint32_t);
	size_t cap;
	char *buf = kept_take(&kept, na + nf + nb, &cap);
	if (!buf)
		return -1;
	g->ap = (uint32_t *)buf;
	g->fbuf = (float *)(buf + na);
	g->bbuf = (uint32_t *)(buf + na + nf);
	g->block = pick_block();
	qt_pool_for(threads, (panels_a + 1) / 2, pack_a_task, g);
	qt_pool_for(threads, (size_t)tasks, col_task, g);
	kept_give(&kept, buf, cap);
	return 0;
}

int bgemm_rm_fill(int trans_b, int M, int N, int K, const float *A, int lda, sgemm_fill_fn fill,
                  void *ctx, float beta, float *C, int ldc)
{
	struct bgemm_job g = { .trans_b = trans_b, .M = M, .N = N, .K = K, .P = (K + 1) / 2,
		               .ldc = ldc, .beta = beta, .A = A, .lda = lda, .fill = fill,
		               .ctx = ctx, .C = C };
	return run(&g);
}

int bgemm_rm(int trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc)
{
	struct bgemm_job g = { .trans_b = trans_b, .M = M, .N = N, .K = K, .P = (K + 1) / 2,
		               .ldc = ldc, .beta = beta, .A = A, .lda = lda, .B = B, .ldb = ldb,
		               .C = C };
	return run(&g);
}

/* ---- op(B) packed once for many products ---- */

struct bgemm_b {
	int trans_b, N, K, P;
	uint32_t *panels; /* ceil(N / NR) panels of P x NR pairs */
};

/* Rows of the source read in order, each into every panel: one pass over B (the column tiles
 * of a product read an LM head's weight at a stride, 0.7 GB/s). */
static void pack_rows_task(void *ctx, size_t t, int worker)
{
	(void)worker;
	const struct bgemm_job *g = ctx;
	uint32_t *panels = (uint32_t *)g->packed;
	size_t psz = (size_t)g->P * NR;
	if (g->trans_b) { /* panel t: NR rows of B, each a column of op(B) */
		panel_from_rows(panels + t * psz, g->B + t * NR * (size_t)g->ldb, (size_t)g->ldb,
		                g->N - (int)t * NR, g->K, g->P);
		return;
	}
	/* pairs [t * 64, t * 64 + 64) of rows of B */
	for (int p = (int)t * 64; p < g->P && p < (int)t * 64 + 64; p++) {
		const float *lo = g->B + (size_t)(2 * p) * g->ldb;
		pairs_into_panels(panels, psz, p, lo, 2 * p + 1 < g->K ? lo + g->ldb : NULL, g->N);
	}
}

static void pack_fill_task(void *ctx, size_t t, int worker)
{
	const struct bgemm_job *g = ctx;
	int j0 = (int)t * TASK_COLS, n = g->N - j0 < TASK_COLS ? g->N - j0 : TASK_COLS;
	pack_b(g, j0, n, g->fbuf + (size_t)worker * TASK_COLS * (size_t)(g->K > 0 ? g->K : 1),
	       (uint32_t *)g->packed + (size_t)(j0 / NR) * g->P * NR);
}

struct bgemm_b *bgemm_pack_b(int trans_b, int N, int K, const float *B, int ldb,
                             sgemm_fill_fn fill, void *ctx)
{
	struct bgemm_b *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	*b = (struct bgemm_b){ trans_b, N, K, (K + 1) / 2, NULL };
	size_t Q = (size_t)(N > 0 ? (N + NR - 1) / NR : 0), pp = (size_t)(b->P > 0 ? b->P : 1);
	int threads = sgemm_threads();
	float *fbuf = NULL;
	if (!(b->panels = malloc(Q * pp * NR * sizeof *b->panels + 1)) ||
	    (!B && !(fbuf = malloc((size_t)threads * TASK_COLS * (size_t)(K > 0 ? K : 1) *
	                           sizeof *fbuf)))) {
		bgemm_b_free(b);
		return NULL;
	}
	struct bgemm_job g = { .trans_b = trans_b, .N = N, .K = K, .P = b->P, .fill = fill,
		               .ctx = ctx, .B = B, .ldb = ldb, .packed = b->panels, .fbuf = fbuf };
	if (B)
		qt_pool_for(threads, trans_b ? Q : (size_t)(b->P + 63) / 64, pack_rows_task, &g);
	else
		qt_pool_for(threads, (size_t)(N + TASK_COLS - 1) / TASK_COLS, pack_fill_task, &g);
	free(fbuf);
	return b;
}

int bgemm_rm_packed(int M, const float *A, int lda, const struct bgemm_b *b, float beta, float *C,
                    int ldc)
{
	struct bgemm_job g = { .trans_b = b->trans_b, .M = M, .N = b->N, .K = b->K, .P = b->P,
		               .ldc = ldc, .beta = beta, .A = A, .lda = lda, .packed = b->panels,
		               .C = C };
	return run(&g);
}

void bgemm_b_free(struct bgemm_b *b)
{
	if (b)
		free(b->panels);
	free(b);
}
