/* qlora-tools: ISC license. */
/*
 * CUDA twin of kernels/cpu/rope.c. The rotation is bit-identical to the CPU (each product and
 * sum rounded separately, no FMA). rope_table_cuda uses CUDA's cosf/sinf (within 2 ulp of
 * glibc's, not identical): a caller that needs bit parity computes the table once with
 * rope_table on the host and uploads it. Not yet run on a GPU (kernels/cuda/README).
 */
#include "kernels/cuda/common.cuh"

/* cos, sin: (T, HD/2); pos: (T); inv_freq: (HD/2) */
static __global__ void rope_table_kernel(float *cos_t, float *sin_t, const int32_t *pos,
                                         const float *inv_freq, int T, int half)
{
	size_t n = (size_t)T * half;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		int t = (int)(i / half), j = (int)(i % half);
		float a = __fmul_rn((float)pos[t], inv_freq[j]);
		cos_t[i] = cosf(a);
		sin_t[i] = sinf(a);
	}
}

/* out, x: (T, NH, HD), out may alias x; one thread per rotated pair; sign -1 for backward */
static __global__ void rope_kernel(float *out, const float *x, const float *cos_t,
                                   const float *sin_t, int T, int NH, int HD, float sign)
{
	int half = HD / 2;
	size_t n = (size_t)T * NH * half;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		int j = (int)(i % half);
		size_t th = i / half; /* t * NH + h */
		int t = (int)(th / NH);
		size_t o = th * HD;
		float c = cos_t[(size_t)t * half + j], sn = __fmul_rn(sign, sin_t[(size_t)t * half + j]);
		float x1 = x[o + j], x2 = x[o + j + half];
		out[o + j] = __fadd_rn(__fmul_rn(x1, c), __fmul_rn(-x2, sn));
		out[o + j + half] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, sn));
	}
}

extern "C" void rope_table_cuda(float *cos_t, float *sin_t, const int32_t *pos,
                                const float *inv_freq, int T, int HD)
{
	CUDA_REQUIRE(T >= 0 && HD > 0 && HD % 2 == 0, "HD must be even");
	if (T == 0)
		return;
	rope_table_kernel<<<qt_blocks((size_t)T * (HD / 2), 256), 256, 0, qt_cuda_stream()>>>(
		cos_t, sin_t, pos, inv_freq, T, HD / 2);
	CUDA_LAUNCHED();
}

static void rope_launch(float *out, const float *x, const float *cos_t, const float *sin_t,
                        int T, int NH, int HD, float sign)
{
	CUDA_REQUIRE(T >= 0 && NH > 0 && HD > 0 && HD % 2 == 0, "HD must be even");
	if (T == 0)
		return;
	rope_kernel<<<qt_blocks((size_t)T * NH * (HD / 2), 256), 256, 0, qt_cuda_stream()>>>(
		out, x, cos_t, sin_t, T, NH, HD, sign);
	CUDA_LAUNCHED();
}

extern "C" void rope_forward_cuda(float *out, const float *x, const float *cos_t,
                                  const float *sin_t, int T, int NH, int HD)
{
	rope_launch(out, x, cos_t, sin_t, T, NH, HD, 1.0f);
}

extern "C" void rope_backward_cuda(float *dx, const float *dout, const float *cos_t,
                                   const float *sin_t, int T, int NH, int HD)
{
	rope_launch(dx, dout, cos_t, sin_t, T, NH, HD, -1.0f);
}
