/* qlora-tools: ISC license. */
/* CUDA twin of kernels/cpu/geglu.c: PyTorch's tanh-approximated gelu, in ATen's order of
 * operations (CUDA's tanhf differs from glibc's by an ulp or so: parity within a tolerance).
 * Not yet run on a GPU (kernels/cuda/README). */
#include "kernels/cuda/common.cuh"

#define GELU_BETA  0.7978845608028654f /* M_SQRT2 * M_2_SQRTPI * 0.5 */
#define GELU_KAPPA 0.044715f

static __global__ void geglu_fwd_kernel(float *out, const float *gate, const float *up, size_t N)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < N;
	     i += (size_t)gridDim.x * blockDim.x) {
		float x = gate[i];
		float inner = __fmul_rn(GELU_BETA, __fadd_rn(x, __fmul_rn(GELU_KAPPA,
		                                                          __fmul_rn(__fmul_rn(x, x), x))));
		out[i] = __fmul_rn(__fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, tanhf(inner))), up[i]);
	}
}

static __global__ void geglu_bwd_kernel(float *dgate, float *dup, const float *dout,
                                        const float *gate, const float *up, size_t N)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < N;
	     i += (size_t)gridDim.x * blockDim.x) {
		float x = gate[i], x2 = __fmul_rn(x, x);
		float t = tanhf(__fmul_rn(GELU_BETA, __fadd_rn(x, __fmul_rn(__fmul_rn(GELU_KAPPA, x2), x))));
		float d = __fadd_rn(__fmul_rn(0.5f, __fadd_rn(1.0f, t)),
		                    __fmul_rn(__fmul_rn(0.5f, x),
		                              __fmul_rn(__fmul_rn(__fsub_rn(1.0f, __fmul_rn(t, t)),
		                                                  GELU_BETA),
		                                        __fadd_rn(1.0f, __fmul_rn(3.0f * GELU_KAPPA,
		                                                                  x2)))));
		float g = dout[i];
		dup[i] = __fadd_rn(dup[i], __fmul_rn(__fmul_rn(__fmul_rn(g, 0.5f), x),
		                                     __fadd_rn(1.0f, t)));
		dgate[i] = __fadd_rn(dgate[i], __fmul_rn(__fmul_rn(g, up[i]), d));
	}
}

/* out, gate, up: (N) */
extern "C" void geglu_forward_cuda(float *out, const float *gate, const float *up, size_t N)
{
	if (N == 0)
		return;
	geglu_fwd_kernel<<<qt_blocks(N, 256), 256, 0, qt_cuda_stream()>>>(out, gate, up, N);
	CUDA_LAUNCHED();
}

/* dgate, dup: (N) +=; dout, gate, up: (N) */
extern "C" void geglu_backward_cuda(float *dgate, float *dup, const float *dout,
                                    const float *gate, const float *up, size_t N)
{
	if (N == 0)
		return;
	geglu_bwd_kernel<<<qt_blocks(N, 256), 256, 0, qt_cuda_stream()>>>(dgate, dup, dout, gate,
	                                                                   up, N);
	CUDA_LAUNCHED();
}
