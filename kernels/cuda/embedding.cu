/* qlora-tools: ISC license. */
/*
 * CUDA twin of kernels/cpu/embedding.c: embedding gather and counter-based NEFTune noise
 * (bit-identical to the CPU: the same integer hash, and x + mag * u rounded twice, never
 * contracted to an FMA). Not yet run on a GPU (kernels/cuda/README).
 */
#include "kernels/cuda/common.cuh"

/* out: (T, C); ids: (T); table: (V, C) */
static __global__ void embedding_kernel(float *out, const int32_t *ids, const float *table,
                                        int T, int C, int V)
{
	for (int t = blockIdx.x; t < T; t += gridDim.x) {
		int id = ids[t];
		float *o = out + (size_t)t * C;
		const float *r = table + (size_t)(id < 0 || id >= V ? 0 : id) * C;
		for (int c = threadIdx.x; c < C; c += blockDim.x)
			o[c] = id < 0 || id >= V ? 0.0f : r[c];
	}
}

static __global__ void neftune_kernel(float *x, size_t n, float mag, uint64_t seed)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		x[i] = __fadd_rn(x[i], __fmul_rn(mag, qt_counter_uniform(seed, i)));
}

extern "C" void embedding_forward_cuda(float *out, const int32_t *ids, const float *table,
                                       int T, int C, int V)
{
	CUDA_REQUIRE(T >= 0 && C > 0 && V > 0, "bad shape");
	if (T == 0)
		return;
	embedding_kernel<<<qt_blocks((size_t)T, 1, 65535), 256, 0, qt_cuda_stream()>>>(out, ids, table,
	                                                                            T, C, V);
	CUDA_LAUNCHED();
}

extern "C" void neftune_forward_cuda(float *x, size_t n, float mag, uint64_t seed)
{
	if (n == 0)
		return;
	neftune_kernel<<<qt_blocks(n, 256), 256, 0, qt_cuda_stream()>>>(x, n, mag, seed);
	CUDA_LAUNCHED();
}

static __global__ void scale_kernel(float *x, size_t n, float s)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		x[i] = __fmul_rn(x[i], s);
}

/* x: (n) *= s (Gemma's sqrt(hidden)): bit-identical */
extern "C" void embedding_scale_cuda(float *x, size_t n, float s)
{
	if (n == 0)
		return;
	scale_kernel<<<qt_blocks(n, 256), 256, 0, qt_cuda_stream()>>>(x, n, s);
	CUDA_LAUNCHED();
}
