/* qlora-tools: ISC license. */
/*
 * Row-major SGEMM for the fast CPU kernels: C = alpha * op(A) op(B) + beta * C, with op(X) = X
 * or X^T, as cblas_sgemm(CblasRowMajor, ...). Large products are cut into column bands of C,
 * one per common/pool.h thread, each a single-threaded OpenBLAS call.
 *
 * Why not OpenBLAS's own threads: its idle workers wait in a sched_yield loop. Between GEMMs
 * (norms, attention rows, NF4 dequantization on our own threads) and on a busy machine they
 * take the cores from the threads doing the work: 40% of a training step's CPU time on 2 cores.
 * Banding by columns of C keeps every element's sum over K in the order OpenBLAS uses, so
 * results do not depend on the thread count.
 */
#ifndef QT_KERNELS_GEMM_H
#define QT_KERNELS_GEMM_H

/* M, N: rows and columns of C; K: the summed dimension. lda/ldb/ldc: row strides. */
void sgemm_rm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Threads for sgemm_rm: n <= 0 restores the default (qt_pool_default_threads()). */
void sgemm_set_threads(int n);

#endif
