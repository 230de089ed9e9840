/* qlora-tools: ISC license. */
/*
 * CUDA twin of kernels/cpu/adamw.c: fused AdamW with fp32 state, gradient sum of squares and
 * scaling. adamw_step is bit-identical to the CPU: the same fused multiply-adds (__fmaf_rn
 * where the CPU calls fmaf) and every other operation rounded separately (__fmul_rn etc., so
 * nvcc cannot contract them); division and sqrt are IEEE (no fast math). grad_sumsq reduces
 * in double in one block with a fixed tree: deterministic, not the CPU's summation order.
 * Not yet run on a GPU (kernels/cuda/README).
 */
#include "kernels/cuda/common.cuh"

static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n,
                                    struct adamw_hparams h)
{
	float w = h.one_minus_b1;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		float gi = g[i], pi = p[i], mo = m[i];
		if (h.decay != 1.0f)
			pi = __fmul_rn(pi, h.decay);
		float diff = __fsub_rn(gi, mo);
		float mi = w < 0.5f ? __fmaf_rn(w, diff, mo)
		                    : __fmaf_rn(-__fsub_rn(1.0f, w), diff, gi);
		float vi = __fmaf_rn(__fmul_rn(h.one_minus_b2, gi), gi, __fmul_rn(v[i], h.beta2));
		float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), h.bc2_sqrt), h.eps);
		p[i] = __fadd_rn(pi, __fdiv_rn(__fmul_rn(h.neg_step_size, mi), denom));
		m[i] = mi;
		v[i] = vi;
	}
}

static __global__ void sumsq_kernel(double *sumsq, const float *g, size_t n)
{
	__shared__ double sh[32];
	double s = 0;
	for (size_t i = threadIdx.x; i < n; i += blockDim.x)
		s += (double)g[i] * g[i];
	s = block_sum_d(s, sh);
	if (threadIdx.x == 0)
		*sumsq += s;
}

static __global__ void scale_kernel(float *g, size_t n, float coef)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		g[i] = __fmul_rn(g[i], coef);
}

/* p, g, m, v: (n); h: host */
extern "C" void adamw_step_cuda(float *p, const float *g, float *m, float *v, size_t n,
                                const struct adamw_hparams *h)
{
	CUDA_REQUIRE(h != NULL, "no hyper-parameters");
	if (n == 0)
		return;
	adamw_kernel<<<qt_blocks(n, 256), 256, 0, qt_cuda_stream()>>>(p, g, m, v, n, *h);
	CUDA_LAUNCHED();
}

/* sumsq: (1) device, +=; g: (n) */
extern "C" void grad_sumsq_cuda(double *sumsq, const float *g, size_t n)
{
	sumsq_kernel<<<1, 1024, 0, qt_cuda_stream()>>>(sumsq, g, n);
	CUDA_LAUNCHED();
}

/* g: (n) */
extern "C" void grad_scale_cuda(float *g, size_t n, float coef)
{
	if (n == 0)
		return;
	scale_kernel<<<qt_blocks(n, 256), 256, 0, qt_cuda_stream()>>>(g, n, coef);
	CUDA_LAUNCHED();
}
