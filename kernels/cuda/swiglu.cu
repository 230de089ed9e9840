/* qlora-tools: ISC license. */
/* CUDA twin of kernels/cpu/swiglu.c (expf differs from glibc's by an ulp or so: parity within
 * a tolerance). Not yet run on a GPU (kernels/cuda/README). */
#include "kernels/cuda/common.cuh"

static __global__ void swiglu_fwd_kernel(float *out, const float *gate, const float *up, size_t N)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < N;
	     i += (size_t)gridDim.x * blockDim.x) {
		float g = gate[i];
		out[i] = g / (1.0f + expf(-g)) * up[i];
	}
}

static __global__ void swiglu_bwd_kernel(float *dgate, float *dup, const float *dout,
                                         const float *gate, const float *up, size_t N)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < N;
	     i += (size_t)gridDim.x * blockDim.x) {
		float g = gate[i], s = 1.0f / (1.0f + expf(-g)), d = dout[i];
		float u = up[i];
		dup[i] += d * g * s;
		dgate[i] += d * u * s * (1.0f + g * (1.0f - s));
	}
}

/* out, gate, up: (N) */
extern "C" void swiglu_forward_cuda(float *out, const float *gate, const float *up, size_t N)
{
	if (N == 0)
		return;
	swiglu_fwd_kernel<<<qt_blocks(N, 256), 256, 0, qt_cuda_stream()>>>(out, gate, up, N);
	CUDA_LAUNCHED();
}

/* dgate, dup: (N) +=; dout, gate, up: (N) */
extern "C" void swiglu_backward_cuda(float *dgate, float *dup, const float *dout,
                                     const float *gate, const float *up, size_t N)
{
	if (N == 0)
		return;
	swiglu_bwd_kernel<<<qt_blocks(N, 256), 256, 0, qt_cuda_stream()>>>(dgate, dup, dout, gate,
	                                                                   up, N);
	CUDA_LAUNCHED();
}
