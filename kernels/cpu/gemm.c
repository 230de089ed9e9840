/* qlora-tools: ISC license. */
/* Tiled SGEMM on the project's threads; see kernels/gemm.h. */
#include "kernels/gemm.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/pool.h"
#include "kernels/cpu/kept_buffer.h"

/*
 * The tiles of C (a grid of rows x columns) are a function of the shape (M, N, K) alone, never of the thread count: every
 * tile is one single-threaded OpenBLAS call whose arguments do not change with the number of
 * threads, so the result is bit-identical at any thread count on any CPU. (OpenBLAS's result
 * for an element depends on the width of the call it is in: its edge kernels and its
 * small-matrix kernels, taken at M*N*K <= 1e6 on x86-64, sum in other orders. Bands derived from
 * the thread count therefore gave different bits at 2 and 3 threads on AVX2 machines.)
 */
#define TILE_ALIGN     16        /* tile sides a multiple of the widest SGEMM micro-tile */
#define TILE_AREA      (256 * 256) /* elements of C per tile aimed at: packing stays ~5% */
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

int sgemm_threads(void)
{
	if (qt_pool_nested())
		return 1;
	return gemm_threads ? gemm_threads : qt_pool_default_threads();
}

static int round_up(int x, int to)
{
	return (x + to - 1) / to * to;
}

/*
 * Each tile is one OpenBLAS call that packs its rows of op(A) and its columns of op(B) again:
 * K * (rows + cols) copies for 2 * rows * cols * K FLOPs. Thin column tiles (the former
 * 1 x 12 grid: 512 x 48 tiles for a 512 x 576 product) spent a fifth of a training step
 * copying; near-square tiles of about TILE_AREA elements copy ~3x less. The count is 1, 2,
 * 4, 6 or 12 (even over 2 threads, 6 and 12 over 3; fewer where rounding the sides to
 * TILE_ALIGN leaves fewer), chosen from the shape alone.
 */
void sgemm_tile_shape(int M, int N, int K, int *rows, int *cols)
{
	*rows = M > 0 ? M : 1;
	*cols = N > 0 ? N : 1;
	if (M <= 0 || N <= 0)
		return;
	double flops = 2.0 * M * N * (K > 0 ? K : 1), area = (double)M * N;
	int counts[] = { 12, 6, 4, 2 }, want = 1;
	for (int i = 0; i < 4 && want == 1; i++)
		if (area >= (double)counts[i] * TILE_AREA && flops >= (double)counts[i] * MIN_TILE_FLOPS)
			want = counts[i];
	if (want == 1 && flops >= 2.0 * MIN_TILE_FLOPS)
		want = 2;
	double best = 0;
	int most = 0;
	for (int gm = 1; gm <= want; gm++) {
		if (want % gm)
			continue;
		int gn = want / gm;
		int r = round_up((M + gm - 1) / gm, TILE_ALIGN), c = round_up((N + gn - 1) / gn, TILE_ALIGN);
		r = r < M ? r : M, c = c < N ? c : N;
		int tiles = ((M + r - 1) / r) * ((N + c - 1) / c);
		double copies = 1.0 / r + 1.0 / c; /* per FLOP, up to a constant */
		if (tiles > most || (tiles == most && copies < best))
			most = tiles, best = copies, *rows = r, *cols = c;
	}
}

struct gemm_job {
	int ta, tb, M, N, K, lda, ldb, ldc, rows, cols, col_tiles;
	float alpha, beta;
	const float *A, *B;
	float *C;
};

static void tile_task(void *ctx, size_t i, int worker)
{
	(void)worker;
	const struct gemm_job *g = ctx;
	int i0 = (int)(i / (size_t)g->col_tiles) * g->rows, j0 = (int)(i % (size_t)g->col_tiles) * g->cols;
	int m = g->M - i0 < g->rows ? g->M - i0 : g->rows;
	int n = g->N - j0 < g->cols ? g->N - j0 : g->cols;
	if (m <= 0 || n <= 0)
		return;
	const float *A = g->ta ? g->A + i0 : g->A + (size_t)i0 * g->lda;
	const float *B = g->tb ? g->B + (size_t)j0 * g->ldb : g->B + j0;
	cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
	            g->tb ? CblasTrans : CblasNoTrans, m, n, g->K, g->alpha, A, g->lda, B,
	            g->ldb, g->beta, g->C + (size_t)i0 * g->ldc + j0, g->ldc);
}

void sgemm_rm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
	pthread_once(&blas_once, blas_single);
	if (M <= 0 || N <= 0)
		return;
	int rows, cols;
	sgemm_tile_shape(M, N, K, &rows, &cols);
	int col_tiles = (N + cols - 1) / cols, tiles = (M + rows - 1) / rows * col_tiles;
	struct gemm_job g = { trans_a, trans_b, M, N, K, lda, ldb, ldc, rows, cols, col_tiles,
	                      alpha, beta, A, B, C };
	/* nested: the same tiles, in order on this thread */
	qt_pool_for(sgemm_threads(), (size_t)tiles, tile_task, &g);
}

/* sgemm_rm_fill's buffers: one block of (threads x column tile) floats kept between calls. */
#define FILL_MIN_BYTES    ((size_t)256 << 20) /* tile buffers of one product: at most this */
#define FILL_THREAD_BYTES ((size_t)32 << 20)  /* or this per thread, whichever is more */

static struct kept_buffer fill_kept = KEPT_BUFFER_INIT;

struct fill_job {
	struct gemm_job g;
	int row_tiles;
	sgemm_fill_fn fill;
	void *ctx;
	float *bufs;     /* per worker, tile floats each */
	size_t tile;
	int *filled;     /* per worker: the column tile its buffer holds, -1: none */
};

/* Tiles in column-major order, so that a worker taking consecutive tiles of one column of the
 * grid fills its buffer once. */
static void fill_task(void *ctx, size_t i, int worker)
{
	struct fill_job *f = ctx;
	const struct gemm_job *g = &f->g;
	int ct = (int)(i / (size_t)f->row_tiles), i0 = (int)(i % (size_t)f->row_tiles) * g->rows;
	int j0 = ct * g->cols;
	int m = g->M - i0 < g->rows ? g->M - i0 : g->rows;
	int n = g->N - j0 < g->cols ? g->N - j0 : g->cols;
	if (m <= 0 || n <= 0)
		return;
	float *B = f->bufs + (size_t)worker * f->tile;
	if (f->filled[worker] != ct) {
		f->fill(f->ctx, j0, n, B);
		f->filled[worker] = ct;
	}
	const float *A = g->ta ? g->A + i0 : g->A + (size_t)i0 * g->lda;
	cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
	            g->tb ? CblasTrans : CblasNoTrans, m, n, g->K, g->alpha, A, g->lda, B,
	            g->tb ? g->K : n, g->beta, g->C + (size_t)i0 * g->ldc + j0, g->ldc);
}

int sgemm_rm_fill(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, sgemm_fill_fn fill, void *ctx, float beta, float *C, int ldc)
{
	pthread_once(&blas_once, blas_single);
	if (M <= 0 || N <= 0)
		return 0;
	int rows, cols;
	sgemm_tile_shape(M, N, K, &rows, &cols);
	int col_tiles = (N + cols - 1) / cols, row_tiles = (M + rows - 1) / rows;
	int tiles = row_tiles * col_tiles;
	int threads = sgemm_threads();
	threads = threads < tiles ? threads : tiles;
	threads = threads > 0 ? threads : 1;
	threads = threads < 256 ? threads : 256;
	/* Tall tiles (a 49152-word LM head's input gradient: 49152 x 1024 floats, 201 MB) would
	 * take as much memory as the f32 weight on a few threads: fewer workers then (the tiles,
	 * and so the bits, stay the same) */
	size_t tile = (size_t)cols * (size_t)(K > 0 ? K : 1), n;
	size_t cap = (size_t)threads * FILL_THREAD_BYTES;
	cap = cap > FILL_MIN_BYTES ? cap : FILL_MIN_BYTES;
	while (threads > 1 && tile * sizeof(float) * (size_t)threads > cap)
		threads--;
	n = tile * (size_t)threads;
	int filled[256];
	size_t held;
	float *bufs = kept_take(&fill_kept, n * sizeof(float), &held);
	if (!bufs)
		return -1;
	for (int t = 0; t < threads; t++)
		filled[t] = -1;
	struct fill_job f = { { trans_a, trans_b, M, N, K, lda, 0, ldc, rows, cols, col_tiles,
	                        alpha, beta, A, NULL, C }, row_tiles, fill, ctx, bufs, tile,
	                      filled };
	qt_pool_for(threads, (size_t)tiles, fill_task, &f);
	kept_give(&fill_kept, bufs, held);
	return 0;
}
