/* qlora-tools: ISC license. */
/*
 * kernels/gemm_bf16.h against its documented math, written here again as a plain loop: each
 * operand rounded to bf16 (nearest even, below 2^-126 to zero), one f32 sum per element in the
 * order k = 1, 0, 3, 2, ...; bit for bit, on the portable code and, where the CPU has
 * AVX512_BF16, on VDPBF16PS. Shapes that do not divide into the 8 x 32 blocks or the 64-column
 * tasks, odd K, both layouts of B, beta 0 (C not read) / 1 / other, 1, 2 and 3 threads; rounding
 * ties, denormal inputs and NaN; and the distance from the unrounded product in double.
 * bgemm_rm (op(B) read in place) and bgemm_rm_packed (op(B) packed once, from B or from the
 * fill) equal to bgemm_rm_fill bit for bit.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "kernels/gemm_bf16.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static float frand(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float bf(float x)
{
	uint16_t b = qt_f32_to_bf16(x);
	if (!(b & 0x7F80))
		b &= 0x8000;
	return qt_bf16_to_f32(b);
}

struct mat {
	const float *B;
	int trans_b, K, N;
};

/* op(B)'s columns [j0, j0 + n) as sgemm_rm_fill's fills write them */
static void fill(void *ctx, int j0, int n, float *buf)
{
	const struct mat *m = ctx;
	if (m->trans_b)
		memcpy(buf, m->B + (size_t)j0 * m->K, (size_t)n * m->K * sizeof *buf);
	else
		for (int k = 0; k < m->K; k++)
			memcpy(buf + (size_t)k * n, m->B + (size_t)k * m->N + j0, (size_t)n * sizeof *buf);
}

static float opb(const struct mat *m, int k, int j)
{
	return m->trans_b ? m->B[(size_t)j * m->K + k] : m->B[(size_t)k * m->N + j];
}

static float ref_elem(const float *A, int lda, const struct mat *m, int i, int j)
{
	float s = 0.0f;
	for (int k = 0; k < m->K; k += 2) {
		if (k + 1 < m->K)
			s = s + bf(A[(size_t)i * lda + k + 1]) * bf(opb(m, k + 1, j));
		s = s + bf(A[(size_t)i * lda + k]) * bf(opb(m, k, j));
	}
	return s;
}

static int same_bits(float a, float b)
{
	uint32_t x, y;
	memcpy(&x, &a, 4), memcpy(&y, &b, 4);
	return x == y;
}

static void one(int path, int trans_b, int M, int N, int K, float beta, int threads)
{
	int lda = K + 3, ldc = N + 2;
	float *A = malloc(sizeof(float) * (size_t)M * lda + 4);
	float *B = malloc(sizeof(float) * (size_t)K * N + 4);
	float *C = malloc(sizeof(float) * (size_t)M * ldc + 4);
	float *C0 = malloc(sizeof(float) * (size_t)M * ldc + 4);
	float *C2 = malloc(sizeof(float) * (size_t)M * ldc + 4);
	for (size_t i = 0; i < (size_t)M * lda; i++)
		A[i] = frand() * 3.0f;
	for (size_t i = 0; i < (size_t)K * N; i++)
		B[i] = frand() * 0.1f;
	for (size_t i = 0; i < (size_t)M * ldc; i++)
		C2[i] = C0[i] = C[i] = beta == 0.0f ? NAN : frand();
	struct mat m = { B, trans_b, K, N };
	CHECK(bgemm_set_path(path) == 0, "path %d", path);
	sgemm_set_threads(threads);
	CHECK(bgemm_rm_fill(trans_b, M, N, K, A, lda, fill, &m, beta, C, ldc) == 0, "alloc");
	CHECK(bgemm_rm(trans_b, M, N, K, A, lda, B, trans_b ? K : N, beta, C2, ldc) == 0, "alloc");
	CHECK(memcmp(C, C2, sizeof(float) * (size_t)M * ldc) == 0, "bgemm_rm differs from "
	      "bgemm_rm_fill");
	for (int from_fill = 0; from_fill < 2; from_fill++) {
		struct bgemm_b *pk = bgemm_pack_b(trans_b, N, K, from_fill ? NULL : B,
		                                  trans_b ? K : N, fill, &m);
		memcpy(C2, C0, sizeof(float) * (size_t)M * ldc);
		CHECK(pk && bgemm_rm_packed(M, A, lda, pk, beta, C2, ldc) == 0, "alloc");
		CHECK(memcmp(C, C2, sizeof(float) * (size_t)M * ldc) == 0, "bgemm_rm_packed (%s) "
		      "differs from bgemm_rm_fill", from_fill ? "fill" : "B");
		bgemm_b_free(pk);
	}
	sgemm_set_threads(0);
	int bad = 0, pad = 0;
	double worst = 0;
	for (int i = 0; i < M; i++) {
		for (int j = 0; j < N; j++) {
			float s = ref_elem(A, lda, &m, i, j);
			float want = beta == 0.0f ? s : beta * C0[(size_t)i * ldc + j] + s;
			bad += !same_bits(C[(size_t)i * ldc + j], want);
			double d = 0, mag = 0;
			for (int k = 0; k < K; k++) {
				d += (double)A[(size_t)i * lda + k] * opb(&m, k, j);
				mag += fabs((double)A[(size_t)i * lda + k] * opb(&m, k, j));
			}
			double e = fabs((double)s - d) / (mag > 0 ? mag : 1);
			worst = e > worst ? e : worst;
		}
		for (int j = N; j < ldc; j++)
			pad += !same_bits(C[(size_t)i * ldc + j], C0[(size_t)i * ldc + j]);
	}
	CHECK(bad == 0, "path %d trans_b %d %dx%dx%d beta %g threads %d: %d elements differ from the "
	      "documented sums", path, trans_b, M, N, K, beta, threads, bad);
	CHECK(pad == 0, "columns past N written (%d)", pad);
	/* two operands rounded to 8 significant bits each: |error| <= ~2^-8 of sum |a b| */
	CHECK(worst < 1.0 / 128, "relative error %g", worst);
	free(A), free(B), free(C), free(C0), free(C2);
}

static void shapes(int path)
{
	static const int dims[][3] = { { 1, 1, 1 },  { 7, 33, 5 },   { 8, 32, 16 }, { 13, 70, 31 },
		                       { 9, 64, 2 }, { 64, 129, 577 }, { 3, 200, 64 }, { 40, 1, 9 } };
	static const float betas[] = { 0.0f, 1.0f, 0.5f };
	for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
		for (int tb = 0; tb < 2; tb++)
			for (int b = 0; b < 3; b++)
				for (int t = 1; t <= 3; t++)
					one(path, tb, dims[d][0], dims[d][1], dims[d][2], betas[b], t);
}

/* Ties round to even, inputs below 2^-126 count as zero, NaN spreads. */
static void special(int path)
{
	float A[4] = { 1.0f + 1.0f / 256, 1e-39f, 3.0f, 1.0f };    /* 1 + 2^-8: a tie, to 1 */
	float B[4] = { 1.0f, 1e30f, 1.0f + 3.0f / 256, 0.0f };     /* 1 + 3 * 2^-8: a tie, up */
	struct mat m = { B, 1, 4, 1 };
	float C = 0;
	CHECK(bgemm_set_path(path) == 0, "path");
	CHECK(bgemm_rm_fill(1, 1, 1, 4, A, 4, fill, &m, 0.0f, &C, 1) == 0, "alloc");
	/* k1: denormal * 1e30 = 0, k0: 1 * 1 = 1, k3: 0, k2: 3 * (1 + 4/256) */
	CHECK(C == 1.0f + 3.0f * (1.0f + 4.0f / 256), "got %.9g", C);
	A[3] = NAN;
	CHECK(bgemm_rm_fill(1, 1, 1, 4, A, 4, fill, &m, 0.0f, &C, 1) == 0, "alloc");
	CHECK(isnan(C), "NaN lost: %g", C);
}

int main(void)
{
	shapes(BGEMM_PORTABLE);
	special(BGEMM_PORTABLE);
	if (bgemm_native_supported()) {
		shapes(BGEMM_NATIVE);
		special(BGEMM_NATIVE);
	} else {
		CHECK(bgemm_set_path(BGEMM_NATIVE) == -1, "native path taken without AVX512_BF16");
		SKIP("no AVX512_BF16 on this CPU: VDPBF16PS path not run");
	}
	bgemm_set_path(BGEMM_AUTO);
	return test_main_end();
}
