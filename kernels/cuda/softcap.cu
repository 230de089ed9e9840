/* qlora-tools: ISC license. */
/* CUDA twin of kernels/cpu/softcap.c's residual_add (the sum of two floats: bit-identical).
 * Not yet run on a GPU (kernels/cuda/README). */
#include "kernels/cuda/common.cuh"

static __global__ void residual_add_kernel(float *x, const float *y, size_t N)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < N;
	     i += (size_t)gridDim.x * blockDim.x)
		x[i] += y[i];
}

/* x: (N) += y: (N) */
extern "C" void residual_add_cuda(float *x, const float *y, size_t N)
{
	if (N == 0)
		return;
	residual_add_kernel<<<qt_blocks(N, 256), 256, 0, qt_cuda_stream()>>>(x, y, N);
	CUDA_LAUNCHED();
}
