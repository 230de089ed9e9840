/* qlora-tools: ISC license. */
/*
 * kernels/gemm.h: the column-banded SGEMM against a plain double-precision loop, for every
 * transpose combination, beta 0 / 1 / other, strides wider than the matrix and column counts
 * that do not divide into the bands; and bit-identical results at 1, 2, 3 and 7 threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/kcheck.h"
#include "test.h"

/* element (i, j) of op(X) for a row-major X with row stride ld */
static float at(const float *X, int trans, int ld, int i, int j)
{
	return trans ? X[(size_t)j * ld + i] : X[(size_t)i * ld + j];
}

static void one(int ta, int tb, int M, int N, int K, float beta, uint64_t seed)
{
	int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
	size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb,
	       nc = (size_t)M * ldc;
	float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
	float *C0 = malloc(nc * sizeof *C0), *C = malloc(nc * sizeof *C);
	float *ref = malloc(nc * sizeof *ref);
	kc_rand(A, na, seed, 1.0f);
	kc_rand(B, nb, seed + 1, 1.0f);
	kc_rand(C0, nc, seed + 2, 1.0f);
	float alpha = 0.75f;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < ldc; j++) {
			size_t o = (size_t)i * ldc + j;
			if (j >= N) {
				ref[o] = C0[o];  /* the stride's padding is never written */
				continue;
			}
			double s = 0;
			for (int k = 0; k < K; k++)
				s += (double)at(A, ta, lda, i, k) * at(B, tb, ldb, k, j);
			ref[o] = (float)(alpha * s + (beta == 0 ? 0 : (double)beta * C0[o]));
		}
	float *first = malloc(nc * sizeof *first);
	int threads[] = { 1, 2, 3, 7 };
	for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
		memcpy(C, C0, nc * sizeof *C);
		sgemm_set_threads(threads[t]);
		sgemm_rm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
		double worst = 0;
		for (size_t o = 0; o < nc; o++) {
			double e = fabs((double)C[o] - ref[o]) / (1 + fabs((double)ref[o]));
			worst = e > worst ? e : worst;
		}
		CHECK(worst < 1e-5, "ta %d tb %d %dx%dx%d beta %g threads %d: error %g", ta, tb, M, N,
		      K, beta, threads[t], worst);
		if (t == 0)
			memcpy(first, C, nc * sizeof *C);
		else
			CHECK(memcmp(first, C, nc * sizeof *C) == 0,
			      "ta %d tb %d %dx%dx%d: %d threads differ from 1", ta, tb, M, N, K, threads[t]);
	}
	sgemm_set_threads(0);
	free(A), free(B), free(C0), free(C), free(ref), free(first);
}

int main(void)
{
	/* sizes under and over the banding threshold; N = 1, 17, 577 leave ragged bands */
	int shapes[][3] = { { 3, 5, 7 }, { 64, 17, 64 }, { 130, 577, 96 }, { 200, 1, 300 },
	                    { 96, 300, 150 } };
	float betas[] = { 0.0f, 1.0f, 0.5f };
	uint64_t seed = 1;
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++)
				for (int b = 0; b < 3; b++)
					one(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], betas[b], seed++ * 7);
	return test_main_end();
}
