/* qlora-tools: ISC license. */
/* CUDA twins of kernels/cpu/softcap.c: residual_add (the sum of two floats: bit-identical),
 * softcap_forward (tanhf: within an ulp or so) and softcap_backward (a division and three
 * rounded products/differences: bit-identical).
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

static __global__ void softcap_kernel(float *y, const float *x, size_t N, float c)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < N;
	     i += (size_t)gridDim.x * blockDim.x)
		y[i] = __fmul_rn(tanhf(__fdiv_rn(x[i], c)), c);
}

/* y = tanh(x / c) * c, elementwise (y may be x); tanhf within an ulp or so of glibc's */
extern "C" void softcap_forward_cuda(float *y, const float *x, size_t N, float c)
{
	if (N == 0)
		return;
	softcap_kernel<<<qt_blocks(N, 256), 256, 0, qt_cuda_stream()>>>(y, x, N, c);
	CUDA_LAUNCHED();
}

static __global__ void softcap_bwd_kernel(float *dx, const float *dy, const float *y, size_t N,
                                          float c)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < N;
	     i += (size_t)gridDim.x * blockDim.x) {
		float t = __fdiv_rn(y[i], c);
		dx[i] = __fmul_rn(dy[i], __fsub_rn(1.0f, __fmul_rn(t, t)));
	}
}

/* dx = dy * (1 - (y / c)^2), written (dx may be dy or y); no FMA contraction, as the CPU */
extern "C" void softcap_backward_cuda(float *dx, const float *dy, const float *y, size_t N,
                                      float c)
{
	if (N == 0)
		return;
	softcap_bwd_kernel<<<qt_blocks(N, 256), 256, 0, qt_cuda_stream()>>>(dx, dy, y, N, c);
	CUDA_LAUNCHED();
}
