/* qlora-tools: ISC license. */
/*
 * CUDA twin of kernels/cpu/cross_entropy.c: one block per logits row (max, then the sum of
 * expf(x - max) accumulated in double), softmax rows, and the chunked LM head + CE that holds
 * at most `chunk` rows of logits (cuBLAS SGEMM for logits = x W^T and dx += dlogits W), with
 * Gemma-2's final soft cap, and token accuracy (the first largest logit of each row, as
 * torch.argmax, against its target).
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

/* mode 0: losses only; 1: dlogits too (may alias logits); 2: softmax into dlogits. With
 * cap > 0 (mode 1) the logits are soft-capped ones, y = tanh(z / cap) * cap, and dlogits is
 * the gradient of the uncapped z: times 1 - (y / cap)^2, as softcap_backward. */
static __global__ void ce_kernel(float *dlogits, float *losses, const float *logits,
                                 const int32_t *targets, int T, int V, float grad_scale, int mode,
                                 float cap)
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
			for (int i = threadIdx.x; i < V; i += blockDim.x) {
				float xi = x[i];
				float g = expf(xi - lse) * grad_scale - (i == y ? grad_scale : 0.0f);
				if (cap > 0) {
					float tc = __fdiv_rn(xi, cap);
					g = __fmul_rn(g, __fsub_rn(1.0f, __fmul_rn(tc, tc)));
				}
				d[i] = g;
			}
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
		dlogits, losses, logits, targets, T, V, grad_scale, mode, 0.0f);
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

/* The rows of a call: targets copied to the host once, the next chunk's rows with a target
 * picked there and uploaded, gathered (x rows, targets), and their logits made (capped when
 * softcap > 0). Scratch layout as the CPU's lm_head_ce: logits (chunk, V), xs (chunk, C),
 * dxs (chunk, C), rows (chunk), tg (chunk). */
struct lm_rows {
	const float *x, *W;
	const int32_t *targets;
	int T, C, V, chunk, t;
	float softcap;
	float *logits, *xs, *dxs;
	int32_t *rows, *tg, *ht, *hrows;
};

/* 0, or -1 with the error recorded. */
static int lm_rows_init(lm_rows *r, const float *x, const float *W, const int32_t *targets,
                        int T, int C, int V, float softcap, float *scratch, int chunk)
{
	r->x = x, r->W = W, r->targets = targets;
	r->T = T, r->C = C, r->V = V, r->chunk = chunk, r->t = 0, r->softcap = softcap;
	r->logits = scratch;
	r->xs = r->logits + (size_t)chunk * V;
	r->dxs = r->xs + (size_t)chunk * C;
	r->rows = (int32_t *)(r->dxs + (size_t)chunk * C);
	r->tg = r->rows + chunk;
	r->ht = (int32_t *)malloc(sizeof(int32_t) * ((size_t)T + chunk));
	if (!r->ht) {
		qt_cuda_fail(__FILE__, __LINE__, __func__, "malloc", "out of host memory");
		return -1;
	}
	r->hrows = r->ht + T;
	if (cuda_download(r->ht, targets, sizeof(int32_t) * T) != 0) {
		free(r->ht);
		r->ht = NULL;
		return -1;
	}
	return 0;
}

/* The next chunk's row count (0: none left, or an error recorded), its logits made. */
static int lm_rows_next(lm_rows *r, cublasHandle_t h)
{
	int n = 0;
	for (; r->t < r->T && n < r->chunk; r->t++)
		if (r->ht[r->t] >= 0 && r->ht[r->t] < r->V)
			r->hrows[n++] = r->t;
	if (n == 0 || cuda_upload(r->rows, r->hrows, sizeof(int32_t) * n) != 0)
		return 0;
	cudaStream_t st = qt_cuda_stream();
	float one = 1.0f, zero = 0.0f;
	gather_kernel<<<qt_blocks((size_t)n, 1, 65535), 256, 0, st>>>(r->xs, r->tg, r->x, r->targets,
	                                                              r->rows, n, r->C);
	if (qt_cublas_fn.sgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, r->V, n, r->C, &one, r->W, r->C, r->xs,
	                       r->C, &zero, r->logits, r->V) != CUBLAS_STATUS_SUCCESS) {
		qt_cuda_fail(__FILE__, __LINE__, __func__, "cublasSgemm", "logits");
		return 0;
	}
	if (r->softcap > 0)
		softcap_forward_cuda(r->logits, r->logits, (size_t)n * r->V, r->softcap);
	return n;
}

/* losses: (T); dx: (T, C) += or NULL; x: (T, C); W: (V, C); targets: (T);
 * scratch: lm_head_ce_scratch(chunk, C, V) floats, same layout as the CPU */
extern "C" void lm_head_ce_cuda(float *losses, float *dx, const float *x, const float *W,
                                const int32_t *targets, int T, int C, int V, float grad_scale,
                                float softcap, float *scratch, int chunk)
{
	CUDA_REQUIRE(T >= 0 && C > 0 && V > 0 && chunk > 0, "bad shape");
	if (T == 0)
		return;
	cublasHandle_t h = qt_cublas();
	CUDA_REQUIRE(h != NULL, "no cuBLAS handle");
	lm_rows r;
	if (lm_rows_init(&r, x, W, targets, T, C, V, softcap, scratch, chunk) != 0)
		return;
	if (cuda_memset(losses, 0, sizeof(float) * T) != 0) {
		free(r.ht);
		return;
	}
	float one = 1.0f, zero = 0.0f;
	cudaStream_t st = qt_cuda_stream();
	int n;
	while ((n = lm_rows_next(&r, h)) > 0) {
		/* losses of the chunk go to dxs[0..n) first (as the CPU), then are scattered */
		ce_kernel<<<qt_blocks((size_t)n, 1, 65535), CE_THREADS, 0, st>>>(
			dx ? r.logits : NULL, r.dxs, r.logits, r.tg, n, V, grad_scale, dx ? 1 : 0, softcap);
		if (!dx) {
			scatter_kernel<<<qt_blocks((size_t)n, 1, 65535), 256, 0, st>>>(
				losses, NULL, r.dxs, NULL, r.rows, n, C);
			continue;
		}
		/* xs is free once the logits exist: park the losses there while dxs takes dlogits W */
		cudaMemcpyAsync(r.xs, r.dxs, sizeof(float) * n, cudaMemcpyDeviceToDevice, st);
		if (qt_cublas_fn.sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, C, n, V, &one, W, C, r.logits, V,
		                       &zero, r.dxs, C) != CUBLAS_STATUS_SUCCESS) {
			qt_cuda_fail(__FILE__, __LINE__, __func__, "cublasSgemm", "dx");
			break;
		}
		scatter_kernel<<<qt_blocks((size_t)n, 1, 65535), 256, 0, st>>>(losses, dx, r.xs, r.dxs,
		                                                               r.rows, n, C);
	}
	free(r.ht);
	CUDA_LAUNCHED();
}

/* (a, ia) comes before (b, ib) in torch.argmax's choice: a NaN first, then the larger value,
 * then the lower index (a total order, so any reduction tree gives the CPU's pick). */
static __device__ __forceinline__ bool argmax_before(float a, int ia, float b, int ib)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && (!isnan(b) || ia < ib);
	return a > b || (a == b && ia < ib);
}

/* hit[i] = 1 when the first largest logit of row i is at tg[i], else 0; one block per row. */
static __global__ void argmax_hit_kernel(int32_t *hit, const float *logits, const int32_t *tg,
                                         int n, int V)
{
	__shared__ float sv[32];
	__shared__ int si[32];
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	for (int i = blockIdx.x; i < n; i += gridDim.x) {
		const float *x = logits + (size_t)i * V;
		float bv = x[0];
		int bi = 0;
		for (int v = threadIdx.x; v < V; v += blockDim.x)
			if (argmax_before(x[v], v, bv, bi))
				bv = x[v], bi = v;
		for (int o = 16; o > 0; o >>= 1) {
			float ov = __shfl_xor_sync(0xffffffffu, bv, o);
			int oi = __shfl_xor_sync(0xffffffffu, bi, o);
			if (argmax_before(ov, oi, bv, bi))
				bv = ov, bi = oi;
		}
		__syncthreads();
		if (lane == 0)
			sv[w] = bv, si[w] = bi;
		__syncthreads();
		if (threadIdx.x == 0) {
			for (int k = 1; k < nw; k++)
				if (argmax_before(sv[k], si[k], bv, bi))
					bv = sv[k], bi = si[k];
			hit[i] = bi == tg[i];
		}
	}
}

/* x: (T, C); W: (V, C); targets: (T); scratch as lm_head_ce_cuda. The count, on the host. */
extern "C" long lm_head_correct_cuda(const float *x, const float *W, const int32_t *targets,
                                     int T, int C, int V, float softcap, float *scratch,
                                     int chunk)
{
	if (!(T >= 0 && C > 0 && V > 0 && chunk > 0)) {
		qt_cuda_fail(__FILE__, __LINE__, __func__, "shape", "bad shape");
		return 0;
	}
	if (T == 0)
		return 0;
	cublasHandle_t h = qt_cublas();
	lm_rows r;
	int32_t *hits = (int32_t *)malloc(sizeof(int32_t) * (size_t)chunk);
	if (!h || !hits || lm_rows_init(&r, x, W, targets, T, C, V, softcap, scratch, chunk) != 0) {
		if (!hits)
			qt_cuda_fail(__FILE__, __LINE__, __func__, "malloc", "out of host memory");
		free(hits);
		return 0;
	}
	long count = 0;
	int n;
	int32_t *dhit = (int32_t *)r.dxs; /* free: no gradient here */
	while ((n = lm_rows_next(&r, h)) > 0) {
		argmax_hit_kernel<<<qt_blocks((size_t)n, 1, 65535), 256, 0, qt_cuda_stream()>>>(
			dhit, r.logits, r.tg, n, V);
		cudaError_t e = cudaGetLastError();
		if (e != cudaSuccess) {
			qt_cuda_fail(__FILE__, __LINE__, __func__, "argmax_hit_kernel",
			             cudaGetErrorString(e));
			break;
		}
		if (cuda_download(hits, dhit, sizeof(int32_t) * n) != 0)
			break;
		for (int i = 0; i < n; i++)
			count += hits[i];
	}
	free(r.ht);
	free(hits);
	return cuda_error() ? 0 : count;
}
