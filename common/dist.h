/* qlora-tools: ISC license. */
/*
 * The distributed layer: processes started by mpirun (OpenMPI, or any launcher that sets the
 * PMI/PMIx environment) learn their rank and world size here, and the training loop reduces
 * its gradients and scalars through these calls. Without a launcher (or in a build without
 * MPI) the world is one process and every call is a no-op, so a single-process run never
 * touches MPI. Transport errors are fatal to the whole job (MPI_ERRORS_ARE_FATAL): a call
 * either completes on every rank or the job ends, never a hang. The GPU side (NCCL on device
 * buffers, common/dist_nccl.c) sits behind the same names at the bottom.
 * Not thread-safe: one thread per process calls these, the training loop's.
 */
#ifndef QT_COMMON_DIST_H
#define QT_COMMON_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/*
 * Starts MPI when the process was launched by mpirun/srun (the environment says so) and the
 * build has MPI; otherwise a world of one. QT_OK; a launcher's environment in a build without
 * MPI is refused with QT_EUSAGE and a message in err (else every rank would train alone and
 * overwrite the others' output).
 */
int dist_init(struct qt_err *err);
/* Ends MPI (collective: every rank calls it once, after its last reduction). */
void dist_finalize(void);

int dist_rank(void);       /* 0 .. size-1; 0 without MPI */
int dist_size(void);       /* 1 without MPI */
int dist_local_rank(void); /* rank among the processes on this host (GPU choice) */
int dist_local_size(void); /* processes on this host */
int dist_built(void);      /* 1 when built with MPI */

/*
 * buf[0..n) = the sum over ranks of every rank's buf, the SAME bits on every rank and
 * independent of the transport's algorithm: each rank reduces its 1/size slice of the
 * elements in rank order ((r0 + r1) + r2) ..., then the slices are gathered (a reduce-scatter
 * and an all-gather through MPI_Alltoallv and MPI_Allgatherv: the bytes of a ring all-reduce).
 */
void dist_allreduce_f32(float *buf, size_t n);
/* The same for a few doubles (loss sums): summed in rank order on every rank. */
void dist_allreduce_f64(double *v, int n);
/* Exact sums of counts. */
void dist_allreduce_u64(uint64_t *v, int n);

/*
 * Agreement on a status after a phase that can fail on one rank alone (opening inputs): the
 * largest status over ranks, and in *who the lowest rank that had it. QT_OK everywhere when
 * all succeeded.
 */
int dist_agree(int status, int *who);

/* Rank 0's bytes into every rank's buf. */
void dist_bcast(void *buf, size_t n);
void dist_barrier(void);
/* Ends every process of the job with status (MPI_Abort); plain exit(status) without MPI. */
void dist_abort(int status) __attribute__((noreturn));

/* ---- GPUs (common/dist_nccl.c): NCCL on device buffers ---- */

/* 1 when built with NCCL. */
int dist_nccl_built(void);
/* Makes the GPU of this process's node-local rank (modulo the GPUs visible) the current one,
 * before anything probes or allocates on a device; nothing without GPUs or NCCL. */
void dist_gpu_select(void);
/*
 * Selects this process's GPU (node-local rank modulo the GPUs visible) and, with more than
 * one rank, creates the NCCL communicator (ncclGetUniqueId on rank 0, broadcast over MPI,
 * ncclCommInitRank). Call before any device allocation. QT_ESOFTWARE with the CUDA/NCCL error.
 */
int dist_nccl_init(struct qt_err *err);
void dist_nccl_free(void);
/*
 * In-place sums over ranks of count device buffers, bufs[i] holding n[i] floats (one NCCL
 * group of ncclAllReduce on the default stream, then synchronised); the caller has finished
 * writing them. NCCL's ring/tree order: the same bits on every rank, but not the CPU path's
 * rank order. A no-op with one rank. QT_ESOFTWARE with NCCL's message.
 */
int dist_nccl_allreduce_f32(float *const *bufs, const size_t *n, int count,
                            struct qt_err *err);

#endif
