/* qlora-tools: ISC license. */
/*
 * Row-major SGEMM for the fast CPU kernels: C = alpha * op(A) op(B) + beta * C, with op(X) = X
 * or X^T, as cblas_sgemm(CblasRowMajor, ...). Large products are cut into a grid of tiles of
 * C whose sides depend on the shape alone (sgemm_tile_shape), each a single-threaded OpenBLAS
 * call, handed out to however many common/pool.h threads there are.
 *
 * Why not OpenBLAS's own threads: its idle workers wait in a sched_yield loop. Between GEMMs
 * (norms, attention rows, NF4 dequantization on our own threads) and on a busy machine they
 * take the cores from the threads doing the work: 40% of a training step's CPU time on 2 cores.
 * Since the tiles never depend on the thread count, the same OpenBLAS calls compute every
 * element whatever the number of threads: results are bit-identical at any thread count, on
 * any CPU (they may differ between CPUs, as OpenBLAS's kernels do).
 */
#ifndef QT_KERNELS_GEMM_H
#define QT_KERNELS_GEMM_H

/* M, N: rows and columns of C; K: the summed dimension. lda/ldb/ldc: row strides. */
void sgemm_rm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Rows and columns of the tiles sgemm_rm cuts C into (the last row or column of tiles may be
 * smaller): a function of the shape only; 1 <= rows <= M and 1 <= cols <= N for M, N > 0. */
void sgemm_tile_shape(int M, int N, int K, int *rows, int *cols);

/*
 * sgemm_rm with op(B) made a column tile at a time: for frozen weights kept in a smaller form
 * (NF4 codes, bf16) that would otherwise be converted to f32 whole before the product. The
 * tiles and the OpenBLAS call of each are sgemm_rm's, on B's values written into a buffer of
 * the tile's own (OpenBLAS packs B before it multiplies, so where B's values lie, and their
 * stride, change no bit): results are sgemm_rm's on the f32 B, bit for bit, at any thread
 * count. fill(ctx, j0, n, buf) writes op(B)'s columns [j0, j0 + n): with trans_b, rows
 * [j0, j0 + n) of the (N, K) matrix B, n x K floats of stride K; without, the (K, n) block of
 * the (K, N) matrix B, stride n. Each column tile is filled once per worker that needs it.
 * Buffers: K x (column tile) floats per worker, the largest kept for the next call; fewer
 * workers than threads when they would take more than max(256 MB, 32 MB per thread) (tall
 * tiles: an LM head's input gradient sums over the whole vocabulary). Returns 0, or -1 when
 * they cannot be allocated (C untouched).
 */
typedef void (*sgemm_fill_fn)(void *ctx, int j0, int n, float *buf);
int sgemm_rm_fill(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, sgemm_fill_fn fill, void *ctx, float beta, float *C, int ldc);

/* Threads for sgemm_rm: n <= 0 restores the default (qt_pool_default_threads()). */
void sgemm_set_threads(int n);
/* The threads sgemm_rm would use now: 1 inside a task of a parallel qt_pool_for (the CPU
 * kernels' other threaded ops take the same count, kernels/cpu/threaded.c). */
int sgemm_threads(void);

#endif
