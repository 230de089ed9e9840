/* qlora-tools: ISC license. */
/*
 * CUDA twin of kernels/cpu/cross_entropy.c: one block per logits row (max, then the sum of
 * expf(x - max) accumulated in double), softmax rows, and the chunked LM head + CE that holds
 * at most `chunk` rows of logits (cuBLAS SGEMM for logits = x W^T and dx += dlogits W).
 * expf instead of the CPU's double exp: parity within a tolerance, not bit for bit.
 * Not yet run on a GPU (kernels/cuda/README).
 */
#include <stdlib.h>

#include "kernels/cross_entropy.h"
#include "kernels/cuda/common.cuh"

#define CE_THREADS 512

/* The row's log-sum-exp as the CPU computes it: (float)(max + log(sum)). */
static __device__ float row_lse(const float *x, int V, float *sh)
{
	__shared__ double shd[32];
	float m = -INFINITY;
	for (int i = threadIdx.x; i < V; i += blockDim.x)
		m = fmaxf(m, x[i]);
	m = block_max(m, sh);
	double s = 0;
	for (int i = threadIdx.x; i < V; i += blockDim.x)
		s += (double)expf(x[i] - m);
	s = block_sum_d(s, shd);
	return (float)(m + log(s));
}

/* mode 0: losses only; 1: dlogits too (may alias logits); 2: softmax into dlogits. */
static __global__ void ce_kernel(float *dlogits, float *losses, const float *logits,
                                 const int32_t *targets, int T, int V, float grad_scale, int mode)
{
	__shared__ float sh[32];
	for (int t = blockIdx.x; t < T; t += gridDim.x) {
		const float *x = logits + (size_t)t * V;
		float *d = dlogits ? dlogits + (size_t)t * V : NULL;
		int y = targets ? targets[t] : 0;
		if (mode != 2 && (y < 0 || y >= V)) {
			if (losses && threadIdx.x == 0)
				losses[t] = 0;
			if (mode == 1)
				for (int i = threadIdx.x; i < V; i += blockDim.x)
					d[i] = 0;
			continue;
		}
		float lse = row_lse(x, V, sh);
		float xy = mode != 2 ? x[y] : 0;
		__syncthreads(); /* everyone has read x[y] before an aliased d overwrites it */
		if (mode != 2 && losses && threadIdx.x == 0)
			losses[t] = lse - xy;
		if (mode == 1)
			for (int i = threadIdx.x; i < V; i += blockDim.x)
				d[i] = expf(x[i] - lse) * grad_scale - (i == y ? grad_scale : 0.0f);
		if (mode == 2)
			for (int i = threadIdx.x; i < V; i += blockDim.x)
				d[i] = expf(x[i] - lse);
		__syncthreads();
	}
}

/* loss += sum(losses) / normalizer, one block, double */
static __global__ void loss_sum_kernel(float *loss, const float *losses, int T, float normalizer)
{
	__shared__ double sh[32];
	double s = 0;
	for (int t = threadIdx.x; t < T; t += blockDim.x)
		s += losses[t];
	s = block_sum_d(s, sh);
	if (threadIdx.x == 0)
		*loss += (float)(s / normalizer);
}

static void ce_launch(float *dlogits, float *losses, const float *logits, const int32_t *targets,
                      int T, int V, float grad_scale, int mode)
{
	ce_kernel<<<qt_blocks((size_t)T, 1, 65535), CE_THREADS, 0, qt_cuda_stream()>>>(
		dlogits, losses, logits, targets, T, V, grad_scale, mode);
	CUDA_LAUNCHED();
}

/* losses: (T) or NULL; loss: device (1) += or NULL; logits: (T, V); targets: (T) */
extern "C" void cross_entropy_forward_cuda(float *losses, float *loss, const float *logits,
                                           const int32_t *targets, int T, int V, float normalizer)
{
	CUDA_REQUIRE(T >= 0 && V > 0, "bad shape");
	CUDA_REQUIRE(losses || !loss || T == 0, "loss needs the losses buffer on CUDA");
	if (T == 0)
		return;
	ce_launch(NULL, losses, logits, targets, T, V, 0.0f, 0);
	if (loss) {
		loss_sum_kernel<<<1, 1024, 0, qt_cuda_stream()>>>(loss, losses, T, normalizer);
		CUDA_LAUNCHED();
	}
}

/* dlogits: (T, V) written, may alias logits; losses: (T) or NULL */
extern "C" void cross_entropy_backward_cuda(float *dlogits, float *losses, const float *logits,
                                            const int32_t *targets, int T, int V,
                                            float grad_scale)
{
	CUDA_REQUIRE(T >= 0 && V > 0, "bad shape");
	if (T == 0)
		return;
	ce_launch(dlogits, losses, logits, targets, T, V, grad_scale, 1);
}

/* probs, logits: (T, V) */
extern "C" void softmax_forward_cuda(float *probs, const float *logits, int T, int V)
{
	CUDA_REQUIRE(T >= 0 && V > 0, "bad shape");
	if (T == 0)
		return;
	ce_launch(probs, NULL, logits, NULL, T, V, 0.0f, 2);
}

/* xs[i] = x[rows[i]], tg[i] = targets[rows[i]] */
static __global__ void gather_kernel(float *xs, int32_t *tg, const float *x,
                                     const int32_t *targets, const int32_t *rows, int n, int C)
{
	for (int i = blockIdx.x; i < n; i += gridDim.x) {
		int r = rows[i];
		for (int c = threadIdx.x; c < C; c += blockDim.x)
			xs[(size_t)i * C + c] = x[(size_t)r * C + c];
		if (threadIdx.x == 0)
			tg[i] = targets[r];
	}
}

/* losses[rows[i]] = l[i]; dx[rows[i]] += dxs[i] when dx */
static __global__ void scatter_kernel(float *losses, float *dx, const float *l, const float *dxs,
                                      const int32_t *rows, int n, int C)
{
	for (int i = blockIdx.x; i < n; i += gridDim.x) {
		int r = rows[i];
		if (threadIdx.x == 0)
			losses[r] = l[i];
		if (dx)
			for (int c = threadIdx.x; c < C; c += blockDim.x)
				dx[(size_t)r * C + c] += dxs[(size_t)i * C + c];
	}
}

/* losses: (T); dx: (T, C) += or NULL; x: (T, C); W: (V, C); targets: (T);
 * scratch: lm_head_ce_scratch(chunk, C, V) floats, same layout as the CPU */
extern "C" void lm_head_ce_cuda(float *losses, float *dx, const float *x, const float *W,
                                const int32_t *targets, int T, int C, int V, float grad_scale,
                                float *scratch, int chunk)
{
	CUDA_REQUIRE(T >= 0 && C > 0 && V > 0 && chunk > 0, "bad shape");
	if (T == 0)
		return;
	cublasHandle_t h = qt_cublas();
	CUDA_REQUIRE(h != NULL, "no cuBLAS handle");
	float *logits = scratch, *xs = logits + (size_t)chunk * V, *dxs = xs + (size_t)chunk * C;
	int32_t *rows = (int32_t *)(dxs + (size_t)chunk * C), *tg = rows + chunk;
	int32_t *ht = (int32_t *)malloc(sizeof(int32_t) * ((size_t)T + chunk));
	CUDA_REQUIRE(ht != NULL, "out of host memory");
	int32_t *hrows = ht + T;
	if (cuda_download(ht, targets, sizeof(int32_t) * T) != 0 ||
	    cuda_memset(losses, 0, sizeof(float) * T) != 0) {
		free(ht);
		return;
	}
	float one = 1.0f, zero = 0.0f;
	cudaStream_t st = qt_cuda_stream();
	int t = 0;
	while (t < T) {
		int n = 0;
		for (; t < T && n < chunk; t++)
			if (ht[t] >= 0 && ht[t] < V)
				hrows[n++] = t;
		if (n == 0)
			break;
		if (cuda_upload(rows, hrows, sizeof(int32_t) * n) != 0)
			break;
		gather_kernel<<<qt_blocks((size_t)n, 1, 65535), 256, 0, st>>>(xs, tg, x, targets, rows,
		                                                              n, C);
		if (cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, V, n, C, &one, W, C, xs, C, &zero, logits,
		                V) != CUBLAS_STATUS_SUCCESS) {
			qt_cuda_fail(__FILE__, __LINE__, __func__, "cublasSgemm", "logits");
			break;
		}
		/* losses of the chunk go to dxs[0..n) first (as the CPU), then are scattered */
		ce_kernel<<<qt_blocks((size_t)n, 1, 65535), CE_THREADS, 0, st>>>(
			dx ? logits : NULL, dxs, logits, tg, n, V, grad_scale, dx ? 1 : 0);
		if (!dx) {
			scatter_kernel<<<qt_blocks((size_t)n, 1, 65535), 256, 0, st>>>(
				losses, NULL, dxs, NULL, rows, n, C);
			continue;
		}
		/* xs is free once the logits exist: park the losses there while dxs takes dlogits W */
		cudaMemcpyAsync(xs, dxs, sizeof(float) * n, cudaMemcpyDeviceToDevice, st);
		if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, C, n, V, &one, W, C, logits, V, &zero, dxs,
		                C) != CUBLAS_STATUS_SUCCESS) {
			qt_cuda_fail(__FILE__, __LINE__, __func__, "cublasSgemm", "dx");
			break;
		}
		scatter_kernel<<<qt_blocks((size_t)n, 1, 65535), 256, 0, st>>>(losses, dx, xs, dxs,
		                                                               rows, n, C);
	}
	free(ht);
	CUDA_LAUNCHED();
}
