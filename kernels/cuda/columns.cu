/* qlora-tools: ISC license. */
/* CUDA twin of kernels/cpu/columns.c: column blocks of a row-major matrix as strided 2-D copies
 * (copies: bit-identical). Not yet run on a GPU (kernels/cuda/README). */
#include "kernels/cuda/common.cuh"

static size_t width(const int *w, int n)
{
	size_t s = 0;
	for (int i = 0; i < n; i++)
		s += (size_t)w[i];
	return s;
}

/* dst[i]: (T, w[i]) = src's columns of block i; src: (T, sum w) */
extern "C" void columns_split_cuda(float *const *dst, const float *src, int T, const int *w,
                                   int n)
{
	size_t W = width(w, n) * sizeof(float), at = 0;
	for (int i = 0; i < n && T > 0; i++) {
		size_t wi = (size_t)w[i] * sizeof(float);
		CUDA_CHECK(cudaMemcpy2DAsync(dst[i], wi, (const char *)src + at, W, wi, (size_t)T,
		                             cudaMemcpyDeviceToDevice, qt_cuda_stream()));
		at += wi;
	}
}

/* dst: (T, sum w) = the blocks src[i]: (T, w[i]) side by side */
extern "C" void columns_join_cuda(float *dst, const float *const *src, int T, const int *w,
                                  int n)
{
	size_t W = width(w, n) * sizeof(float), at = 0;
	for (int i = 0; i < n && T > 0; i++) {
		size_t wi = (size_t)w[i] * sizeof(float);
		CUDA_CHECK(cudaMemcpy2DAsync((char *)dst + at, W, src[i], wi, wi, (size_t)T,
		                             cudaMemcpyDeviceToDevice, qt_cuda_stream()));
		at += wi;
	}
}
