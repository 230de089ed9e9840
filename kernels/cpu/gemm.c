/* qlora-tools: ISC license. */
/* Column-banded SGEMM on the project's threads; see kernels/gemm.h. */
#include "kernels/gemm.h"

#include <cblas.h>
#include <pthread.h>

#include "common/pool.h"

#define BAND_ALIGN 16           /* band widths a multiple of the widest SGEMM micro-tile */
/* Every band, the last and narrowest included, does at least this much work: less is not worth
 * a thread, and it keeps each band off OpenBLAS's small-matrix kernels (taken at
 * M*N*K <= 1e6 on x86-64), whose different summation order would make the result depend on
 * the thread count. */
#define MIN_BAND_FLOPS (1 << 21)

static int gemm_threads;        /* 0: qt_pool_default_threads() */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_single(void)
{
	openblas_set_num_threads(1);
}

void sgemm_set_threads(int n)
{
	gemm_threads = n > 0 ? n : 0;
}

struct gemm_job {
	int ta, tb, M, N, K, lda, ldb, ldc, width;
	float alpha, beta;
	const float *A, *B;
	float *C;
};

static void band(const struct gemm_job *g, int j0, int n)
{
	const float *B = g->tb ? g->B + (size_t)j0 * g->ldb : g->B + j0;
	cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
	            g->tb ? CblasTrans : CblasNoTrans, g->M, n, g->K, g->alpha, g->A, g->lda, B,
	            g->ldb, g->beta, g->C + j0, g->ldc);
}

static void band_task(void *ctx, size_t i, int worker)
{
	(void)worker;
	const struct gemm_job *g = ctx;
	int j0 = (int)i * g->width;
	int n = g->N - j0 < g->width ? g->N - j0 : g->width;
	if (n > 0)
		band(g, j0, n);
}

void sgemm_rm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
	pthread_once(&blas_once, blas_single);
	if (M <= 0 || N <= 0)
		return;
	struct gemm_job g = { trans_a, trans_b, M, N, K, lda, ldb, ldc, N, alpha, beta, A, B, C };
	int threads = gemm_threads ? gemm_threads : qt_pool_default_threads();
	double flops = 2.0 * M * N * K;
	int bands = qt_pool_nested() ? 1 : threads;
	for (; bands > 1; bands--) {
		int w = (N + bands - 1) / bands;
		g.width = (w + BAND_ALIGN - 1) / BAND_ALIGN * BAND_ALIGN;
		int used = (N + g.width - 1) / g.width, last = N - (used - 1) * g.width;
		if (used > 1 && flops / N * last >= MIN_BAND_FLOPS) {
			bands = used;
			break;
		}
	}
	if (bands <= 1) {
		band(&g, 0, N);
		return;
	}
	qt_pool_for(bands, (size_t)bands, band_task, &g);
}
