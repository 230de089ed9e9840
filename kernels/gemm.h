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

/* Threads for sgemm_rm: n <= 0 restores the default (qt_pool_default_threads()). */
void sgemm_set_threads(int n);

#endif
