/* qlora-tools: ISC license. */
/*
 * The GPU side of the distributed layer (common/dist.h): NCCL all-reduce on device buffers,
 * the communicator set up over MPI. Compiled with QT_NCCL when the Makefile finds nvcc and
 * nccl.h (the CUDA toolkit's, or Debian's libnccl-dev); without it, stand-ins that say so.
 * NEVER RUN ON TWO GPUS so far (tests/cli/lora-train/mpi-nccl.sh skips without them).
 */
#include "common/dist.h"

#ifndef QT_NCCL

int dist_nccl_built(void) { return 0; }
void dist_gpu_select(void) {}

int dist_nccl_init(struct qt_err *err)
{
	return dist_size() > 1 ? qt_err_set(err, QT_ESOFTWARE, "built without NCCL") : QT_OK;
}

void dist_nccl_free(void) {}

int dist_nccl_allreduce_f32(float *const *bufs, const size_t *n, int count, struct qt_err *err)
{
	(void)bufs, (void)n, (void)count;
	return qt_err_set(err, QT_ESOFTWARE, "built without NCCL");
}

#else

#include <cuda_runtime.h>
#include <nccl.h>

static ncclComm_t comm;

int dist_nccl_built(void) { return 1; }

void dist_gpu_select(void)
{
	int n = 0;
	if (cudaGetDeviceCount(&n) == cudaSuccess && n > 0)
		cudaSetDevice(dist_local_rank() % n);
	(void)cudaGetLastError();
}

int dist_nccl_init(struct qt_err *err)
{
	int n = 0;
	cudaError_t ce = cudaGetDeviceCount(&n);
	if (ce != cudaSuccess || n < 1)
		return qt_err_set(err, QT_ESOFTWARE, "cuda: no device for rank %d (%s)", dist_rank(),
		                  ce != cudaSuccess ? cudaGetErrorString(ce) : "none visible");
	if ((ce = cudaSetDevice(dist_local_rank() % n)) != cudaSuccess)
		return qt_err_set(err, QT_ESOFTWARE, "cuda: device %d: %s", dist_local_rank() % n,
		                  cudaGetErrorString(ce));
	if (dist_size() < 2 || comm)
		return QT_OK;
	ncclUniqueId id;
	ncclResult_t r = ncclSuccess;
	if (dist_rank() == 0)
		r = ncclGetUniqueId(&id);
	/* every rank learns whether rank 0 got an id before waiting on the communicator */
	int ok = r == ncclSuccess, who;
	if (dist_agree(ok ? QT_OK : QT_ESOFTWARE, &who) != QT_OK)
		return qt_err_set(err, QT_ESOFTWARE, "nccl: no unique id on rank 0%s%s",
		                  dist_rank() == 0 ? ": " : "",
		                  dist_rank() == 0 ? ncclGetErrorString(r) : "");
	dist_bcast(&id, sizeof id);
	if ((r = ncclCommInitRank(&comm, dist_size(), id, dist_rank())) != ncclSuccess) {
		comm = NULL;
		return qt_err_set(err, QT_ESOFTWARE, "nccl: communicator of %d ranks: %s",
		                  dist_size(), ncclGetErrorString(r));
	}
	return QT_OK;
}

void dist_nccl_free(void)
{
	if (comm)
		ncclCommDestroy(comm);
	comm = NULL;
}

int dist_nccl_allreduce_f32(float *const *bufs, const size_t *n, int count, struct qt_err *err)
{
	if (!comm)
		return QT_OK; /* one rank: nothing to reduce */
	/* one fused launch for all the buffers (NCCL aggregates the calls of a group) */
	ncclResult_t r = ncclGroupStart();
	for (int i = 0; i < count && r == ncclSuccess; i++)
		r = ncclAllReduce(bufs[i], bufs[i], n[i], ncclFloat, ncclSum, comm, 0);
	ncclResult_t r2 = ncclGroupEnd();
	if (r == ncclSuccess)
		r = r2;
	if (r != ncclSuccess)
		return qt_err_set(err, QT_ESOFTWARE, "nccl: all-reduce of %d buffers: %s", count,
		                  ncclGetErrorString(r));
	cudaError_t ce = cudaStreamSynchronize(0);
	if (ce != cudaSuccess)
		return qt_err_set(err, QT_ESOFTWARE, "nccl: all-reduce of %d buffers: %s", count,
		                  cudaGetErrorString(ce));
	return QT_OK;
}

#endif
