/* qlora-tools: ISC license. */
/* CUDA twin of kernels/cpu/dropout.c: the same counter-based mask, bit-identical output.
 * Not yet run on a GPU (kernels/cuda/README). */
#include "kernels/cuda/common.cuh"

static __device__ __forceinline__ bool keep(uint64_t seed, size_t i, float p)
{
	float u = __fmul_rn(__fadd_rn(qt_counter_uniform(seed, i), 1.0f), 0.5f);
	return u >= p;
}

static __global__ void dropout_fwd_kernel(float *out, const float *x, size_t n, float p,
                                          float scale, uint64_t seed)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		out[i] = keep(seed, i, p) ? __fmul_rn(x[i], scale) : 0.0f;
}

static __global__ void dropout_bwd_kernel(float *dx, const float *dout, size_t n, float p,
                                          float scale, uint64_t seed)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		if (keep(seed, i, p))
			dx[i] = __fadd_rn(dx[i], __fmul_rn(dout[i], scale));
}

/* out, x: (n) */
extern "C" void dropout_forward_cuda(float *out, const float *x, size_t n, float p, float scale,
                                     uint64_t seed)
{
	CUDA_REQUIRE(p >= 0.0f && p < 1.0f, "p must be in [0, 1)");
	if (n == 0)
		return;
	dropout_fwd_kernel<<<qt_blocks(n, 256), 256, 0, qt_cuda_stream()>>>(out, x, n, p, scale,
	                                                                    seed);
	CUDA_LAUNCHED();
}

/* dx: (n) +=; dout: (n) */
extern "C" void dropout_backward_cuda(float *dx, const float *dout, size_t n, float p,
                                      float scale, uint64_t seed)
{
	CUDA_REQUIRE(p >= 0.0f && p < 1.0f, "p must be in [0, 1)");
	if (n == 0)
		return;
	dropout_bwd_kernel<<<qt_blocks(n, 256), 256, 0, qt_cuda_stream()>>>(dx, dout, n, p, scale,
	                                                                    seed);
	CUDA_LAUNCHED();
}
