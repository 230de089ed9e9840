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

/* out, x: (T, NH, HD), out may alias x; the first rot dims of each head rotated, pairs
 * (j, j + rot/2) or interleaved (2j, 2j + 1); one thread per pair, and one per copied dim
 * beyond rot when out is not x; sign -1 for backward */
static __global__ void rope_kernel(float *out, const float *x, const float *cos_t,
                                   const float *sin_t, int T, int NH, int HD, int rot,
                                   int interleaved, float sign)
{
	int half = rot / 2, step = interleaved ? 2 : 1, off = interleaved ? 1 : half;
	int rest = out != x ? HD - rot : 0, per = half + rest;
	size_t n = (size_t)T * NH * per;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		int j = (int)(i % per);
		size_t th = i / per; /* t * NH + h */
		int t = (int)(th / NH);
		size_t o = th * HD;
		if (j >= half) { /* a dim past the rotated ones */
			out[o + rot + (j - half)] = x[o + rot + (j - half)];
			continue;
		}
		float c = cos_t[(size_t)t * half + j], sn = __fmul_rn(sign, sin_t[(size_t)t * half + j]);
		size_t i1 = o + (size_t)j * step, i2 = i1 + off;
		float x1 = x[i1], x2 = x[i2];
		out[i1] = __fadd_rn(__fmul_rn(x1, c), __fmul_rn(-x2, sn));
		out[i2] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, sn));
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
                        int T, int NH, int HD, int rot, int interleaved, float sign)
{
	CUDA_REQUIRE(T >= 0 && NH > 0 && HD > 0 && rot > 0 && rot % 2 == 0 && rot <= HD,
	             "need an even rot <= HD");
	if (T == 0)
		return;
	size_t per = (size_t)(rot / 2 + (out != x ? HD - rot : 0));
	rope_kernel<<<qt_blocks((size_t)T * NH * per, 256), 256, 0, qt_cuda_stream()>>>(
		out, x, cos_t, sin_t, T, NH, HD, rot, interleaved, sign);
	CUDA_LAUNCHED();
}

extern "C" void rope_forward_cuda(float *out, const float *x, const float *cos_t,
                                  const float *sin_t, int T, int NH, int HD)
{
	rope_launch(out, x, cos_t, sin_t, T, NH, HD, HD, 0, 1.0f);
}

extern "C" void rope_backward_cuda(float *dx, const float *dout, const float *cos_t,
                                   const float *sin_t, int T, int NH, int HD)
{
	rope_launch(dx, dout, cos_t, sin_t, T, NH, HD, HD, 0, -1.0f);
}

extern "C" void rope_forward_part_cuda(float *out, const float *x, const float *cos_t,
                                       const float *sin_t, int T, int NH, int HD, int rot,
                                       int interleaved)
{
	rope_launch(out, x, cos_t, sin_t, T, NH, HD, rot, interleaved, 1.0f);
}

extern "C" void rope_backward_part_cuda(float *dx, const float *dout, const float *cos_t,
                                        const float *sin_t, int T, int NH, int HD, int rot,
                                        int interleaved)
{
	rope_launch(dx, dout, cos_t, sin_t, T, NH, HD, rot, interleaved, -1.0f);
}
