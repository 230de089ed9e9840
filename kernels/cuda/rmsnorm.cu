/* qlora-tools: ISC license. */
/*
 * CUDA twin of kernels/cpu/rmsnorm.c: one block per row, sums in double as the reference
 * (a different summation order, so rstd may differ in the last bit on rare rows).
 * Not yet run on a GPU (kernels/cuda/README).
 */
#include "kernels/cuda/common.cuh"

#define RMS_THREADS 256

/* x: (T, C); w: (C); out: (T, C) may alias x; rstd: (T) or NULL */
static __global__ void rms_fwd_kernel(float *out, float *rstd, const float *x, const float *w,
                                      int T, int C, float eps)
{
	__shared__ double sh[32];
	for (int t = blockIdx.x; t < T; t += gridDim.x) {
		const float *xr = x + (size_t)t * C;
		float *o = out + (size_t)t * C;
		double ss = 0;
		for (int i = threadIdx.x; i < C; i += blockDim.x)
			ss += (double)xr[i] * xr[i];
		ss = block_sum_d(ss, sh);
		float var = (float)(ss / C);
		float r = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(var, eps)));
		for (int i = threadIdx.x; i < C; i += blockDim.x)
			o[i] = __fmul_rn(w[i], __fmul_rn(xr[i], r));
		if (rstd && threadIdx.x == 0)
			rstd[t] = r;
		__syncthreads(); /* sh is reused by the next row */
	}
}

/* dx: (T, C) +=; dout, x: (T, C); w: (C); rstd: (T) */
static __global__ void rms_bwd_kernel(float *dx, const float *dout, const float *x,
                                      const float *w, const float *rstd, int T, int C)
{
	__shared__ double sh[32];
	for (int t = blockIdx.x; t < T; t += gridDim.x) {
		const float *xr = x + (size_t)t * C, *dr = dout + (size_t)t * C;
		float *dxr = dx + (size_t)t * C;
		double r = rstd[t], dot = 0;
		for (int i = threadIdx.x; i < C; i += blockDim.x)
			dot += (double)w[i] * dr[i] * xr[i];
		dot = block_sum_d(dot, sh);
		double k = dot * r * r * r / C;
		for (int i = threadIdx.x; i < C; i += blockDim.x)
			dxr[i] += (float)(r * w[i] * dr[i] - k * xr[i]);
		__syncthreads();
	}
}

extern "C" void rmsnorm_forward_cuda(float *out, float *rstd, const float *x, const float *w,
                                     int T, int C, float eps)
{
	CUDA_REQUIRE(T >= 0 && C > 0, "bad shape");
	if (T == 0)
		return;
	rms_fwd_kernel<<<qt_blocks((size_t)T, 1, 65535), RMS_THREADS, 0, qt_cuda_stream()>>>(
		out, rstd, x, w, T, C, eps);
	CUDA_LAUNCHED();
}

extern "C" void rmsnorm_backward_cuda(float *dx, const float *dout, const float *x,
                                      const float *w, const float *rstd, int T, int C)
{
	CUDA_REQUIRE(T >= 0 && C > 0, "bad shape");
	if (T == 0)
		return;
	rms_bwd_kernel<<<qt_blocks((size_t)T, 1, 65535), RMS_THREADS, 0, qt_cuda_stream()>>>(
		dx, dout, x, w, rstd, T, C);
	CUDA_LAUNCHED();
}
