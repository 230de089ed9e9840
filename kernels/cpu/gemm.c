/* qlora-tools: ISC license. */
/* Column-tiled SGEMM on the project's threads; see kernels/gemm.h. */
#include "kernels/gemm.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/pool.h"

/*
 * The tiles of C are a function of the shape (M, N, K) alone, never of the thread count: every
 * tile is one single-threaded OpenBLAS call whose arguments do not change with the number of
 * threads, so the result is bit-identical at any thread count on any CPU. (OpenBLAS's result
 * for an element depends on the width of the call it is in: its edge kernels and its
 * small-matrix kernels, taken at M*N*K <= 1e6 on x86-64, sum in other orders. Bands derived from
 * the thread count therefore gave different bits at 2 and 3 threads on AVX2 machines.)
 */
#define TILE_ALIGN     16        /* tile widths a multiple of the widest SGEMM micro-tile */
#define TILE_MAX       12        /* at most this many tiles: divides evenly over 1, 2, 3, 4, 6 */
#define MIN_TILE_FLOPS (1 << 21) /* a tile does at least this much work: less is not worth a thread */

static int gemm_threads;        /* 0: qt_pool_default_threads() */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/*
 * Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not know recent Intel models (family 6 model 207
 * here) and falls back to its Prescott (SSE3) kernels: 1024^3 SGEMM at 1.8 against 11-14
 * GFLOP/s with its SkylakeX kernels on the same loaded CPU, 75% of a lora-train profile. When
 * it reports such a generic core on a CPU with AVX-512 or AVX2+FMA, the core is chosen again
 * as OPENBLAS_CORETYPE would choose it, through the dynamic-arch entry points (weak: a build
 * without them is left alone, as is a user's OPENBLAS_CORETYPE). Runs before any SGEMM.
 */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static void blas_core(void)
{
	if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || getenv("OPENBLAS_CORETYPE"))
		return;
	const char *core = openblas_get_corename();
	if (!core || (strcmp(core, "Prescott") && strcmp(core, "Core2") && strcmp(core, "Nehalem")))
		return;
	const char *want = NULL;
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
		want = "SkylakeX";
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		want = "Haswell";
#endif
	if (!want || setenv("OPENBLAS_CORETYPE", want, 1) != 0)
		return;
	gotoblas_dynamic_quit();
	gotoblas_dynamic_init();
	unsetenv("OPENBLAS_CORETYPE");
}

static void blas_single(void)
{
	blas_core();
	openblas_set_num_threads(1);
}

void sgemm_set_threads(int n)
{
	gemm_threads = n > 0 ? n : 0;
}

int sgemm_tile_width(int M, int N, int K)
{
	if (N <= 0)
		return 0;
	double per_col = 2.0 * (M > 0 ? M : 1) * (K > 0 ? K : 1);
	int w = (N + TILE_MAX - 1) / TILE_MAX;
	double need = MIN_TILE_FLOPS / per_col;
	if (need > N)
		return N;
	if (w < (int)need + 1)
		w = (int)need + 1;
	w = (w + TILE_ALIGN - 1) / TILE_ALIGN * TILE_ALIGN;
	return w >= N ? N : w;
}

struct gemm_job {
	int ta, tb, M, N, K, lda, ldb, ldc, width;
	float alpha, beta;
	const float *A, *B;
	float *C;
};

static void tile(const struct gemm_job *g, int j0, int n)
{
	const float *B = g->tb ? g->B + (size_t)j0 * g->ldb : g->B + j0;
	cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
	            g->tb ? CblasTrans : CblasNoTrans, g->M, n, g->K, g->alpha, g->A, g->lda, B,
	            g->ldb, g->beta, g->C + j0, g->ldc);
}

static void tile_task(void *ctx, size_t i, int worker)
{
	(void)worker;
	const struct gemm_job *g = ctx;
	int j0 = (int)i * g->width;
	int n = g->N - j0 < g->width ? g->N - j0 : g->width;
	if (n > 0)
		tile(g, j0, n);
}

void sgemm_rm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
	pthread_once(&blas_once, blas_single);
	if (M <= 0 || N <= 0)
		return;
	int width = sgemm_tile_width(M, N, K);
	struct gemm_job g = { trans_a, trans_b, M, N, K, lda, ldb, ldc, width, alpha, beta, A, B, C };
	int tiles = (N + width - 1) / width;
	int threads = gemm_threads ? gemm_threads : qt_pool_default_threads();
	if (qt_pool_nested())
		threads = 1;  /* the same tiles, in order on this thread */
	qt_pool_for(threads, (size_t)tiles, tile_task, &g);
}
