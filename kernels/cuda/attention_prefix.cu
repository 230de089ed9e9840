/* qlora-tools: ISC license. */
/*
 * CUDA twin of kernels/cpu/attention_prefix.c: prefix tuning's P key/value slots merged into
 * an attention's out and lse by log-sum-exp, and their gradients (kernels/attention.h). The
 * slots are un-rotated and seen by every token (a sliding window hides slot p from a token at
 * local position pos[t] when P + pos[t] - p >= W), with the layer's scale and soft cap.
 *
 * One warp per (token, head) row: lane l holds dims l, l + 32, ... (HD <= 256: 8 per lane),
 * every score a warp reduction (the same value in every lane). The forward and dQ follow the
 * CPU's passes (max, then the sum of exp and the weighted values; dS per slot); dK/dV of slot
 * p and kv head g is one block whose 4 warps take every 4th (token, head of the group) pair
 * and sum their shares in warp order through shared memory: deterministic, no atomics.
 * Dot products are summed in another order than the CPU's: parity within a tolerance.
 * P is small (PEFT's num_virtual_tokens, tens to a few hundred), so there is no tiling.
 * Not yet run on a GPU (kernels/cuda/README).
 */
#include <math.h>

#include "kernels/attention.h"
#include "kernels/cuda/common.cuh"

#define PFX_WARPS 4
#define PFX_MAXC 8 /* dims per lane: HD <= 256 */

struct pfx_run {
	int window;
	float scale, cap;
};

/* The first slot a token at local position pos sees (P: none), as first_slot on the CPU. */
static __device__ __forceinline__ int pfx_first(int window, int pos, int P)
{
	if (window <= 0)
		return 0;
	long f = (long)P + pos - window + 1;
	return f < 0 ? 0 : f > P ? P : (int)f;
}

static __device__ __forceinline__ float pfx_cap(float s, float c)
{
	return c > 0 ? __fmul_rn(tanhf(__fdiv_rn(s, c)), c) : s;
}

/* sum_d a[d] b[d] over the lane's dims (a in registers, b in memory), reduced over the warp. */
static __device__ __forceinline__ float pfx_dot(const float *a, const float *b, int HD)
{
	int lane = threadIdx.x & 31;
	float s = 0;
#pragma unroll
	for (int c = 0; c < PFX_MAXC; c++)
		if (lane + 32 * c < HD)
			s += a[c] * b[lane + 32 * c];
	return warp_sum(s);
}

/* The lane's dims of an HD row into registers (0 beyond HD). */
static __device__ __forceinline__ void pfx_load(float *r, const float *src, int HD)
{
	int lane = threadIdx.x & 31;
#pragma unroll
	for (int c = 0; c < PFX_MAXC; c++)
		r[c] = lane + 32 * c < HD ? src[lane + 32 * c] : 0.0f;
}

/* out, lse merged with the slots' (forward). q, out: (T, NH, HD); lse: (NH, T). */
static __global__ void __launch_bounds__(32 * PFX_WARPS)
pfx_fwd_kernel(float *out, float *lse, const float *q, const float *pk, const float *pv,
               size_t ps, const int32_t *pos, pfx_run r, int T, int NH, int NKV, int HD, int P)
{
	int row = blockIdx.x * PFX_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
	if (row >= T * NH)
		return;
	int t = row / NH, h = row % NH;
	int p0 = pfx_first(r.window, pos[t], P);
	if (p0 >= P)
		return;
	size_t g = (size_t)(h / (NH / NKV)) * HD, o = (size_t)t * NH * HD + (size_t)h * HD;
	float qv[PFX_MAXC], acc[PFX_MAXC];
	pfx_load(qv, q + o, HD);
	float m = -INFINITY;
	for (int p = p0; p < P; p++)
		m = fmaxf(m, pfx_cap(pfx_dot(qv, pk + (size_t)p * ps + g, HD) * r.scale, r.cap));
	float sum = 0;
#pragma unroll
	for (int c = 0; c < PFX_MAXC; c++)
		acc[c] = 0;
	for (int p = p0; p < P; p++) {
		float e = expf(pfx_cap(pfx_dot(qv, pk + (size_t)p * ps + g, HD) * r.scale, r.cap) - m);
		sum += e;
		const float *vp = pv + (size_t)p * ps + g;
#pragma unroll
		for (int c = 0; c < PFX_MAXC; c++)
			if (lane + 32 * c < HD)
				acc[c] += e * vp[lane + 32 * c];
	}
	/* the slots' (acc / sum, m + log sum) merged with the keys' (out, lse) by their weights in
	 * the joint softmax */
	float lk = lse[(size_t)h * T + t], lp = m + logf(sum);
	float mx = fmaxf(lk, lp);
	float l = mx + logf(expf(lk - mx) + expf(lp - mx));
	float wk = expf(lk - l), wp = expf(lp - l) / sum;
#pragma unroll
	for (int c = 0; c < PFX_MAXC; c++)
		if (lane + 32 * c < HD)
			out[o + lane + 32 * c] = wk * out[o + lane + 32 * c] + wp * acc[c];
	__syncwarp();
	if (lane == 0)
		lse[(size_t)h * T + t] = l;
}

/* D[h * T + t] = dot(dout, out) of each (token, head) row. */
static __global__ void pfx_dsum_kernel(float *D, const float *dout, const float *out, int T,
                                       int NH, int HD)
{
	int row = blockIdx.x * PFX_WARPS + (threadIdx.x >> 5);
	if (row >= T * NH)
		return;
	float a[PFX_MAXC];
	pfx_load(a, dout + (size_t)row * HD, HD);
	float s = pfx_dot(a, out + (size_t)row * HD, HD);
	if ((threadIdx.x & 31) == 0)
		D[(size_t)(row % NH) * T + row / NH] = s;
}

/* ds of slot p for the row (q, dout in registers): p (dout . v_p - D) scale, through the cap;
 * *pr gets the probability. */
static __device__ __forceinline__ float pfx_ds(const float *qv, const float *dv, const float *kp,
                                               const float *vp, float l, float D, pfx_run r,
                                               int HD, float *pr)
{
	float raw = pfx_dot(qv, kp, HD) * r.scale;
	float p = expf(pfx_cap(raw, r.cap) - l);
	float ds = p * (pfx_dot(dv, vp, HD) - D) * r.scale;
	if (r.cap > 0) {
		float th = tanhf(__fdiv_rn(raw, r.cap));
		ds = __fmul_rn(ds, __fsub_rn(1.0f, __fmul_rn(th, th)));
	}
	*pr = p;
	return ds;
}

/* dq += sum_p ds_p k_p, one warp per (token, head) row. */
static __global__ void __launch_bounds__(32 * PFX_WARPS)
pfx_dq_kernel(float *dq, const float *dout, const float *q, const float *pk, const float *pv,
              size_t ps, const float *lse, const float *D, const int32_t *pos, pfx_run r, int T,
              int NH, int NKV, int HD, int P)
{
	int row = blockIdx.x * PFX_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
	if (row >= T * NH)
		return;
	int t = row / NH, h = row % NH;
	int p0 = pfx_first(r.window, pos[t], P);
	if (p0 >= P)
		return;
	size_t g = (size_t)(h / (NH / NKV)) * HD, o = (size_t)row * HD;
	float qv[PFX_MAXC], dv[PFX_MAXC], acc[PFX_MAXC];
	pfx_load(qv, q + o, HD);
	pfx_load(dv, dout + o, HD);
	float l = lse[(size_t)h * T + t], Dr = D[(size_t)h * T + t], pr;
#pragma unroll
	for (int c = 0; c < PFX_MAXC; c++)
		acc[c] = 0;
	for (int p = p0; p < P; p++) {
		const float *kp = pk + (size_t)p * ps + g;
		float ds = pfx_ds(qv, dv, kp, pv + (size_t)p * ps + g, l, Dr, r, HD, &pr);
#pragma unroll
		for (int c = 0; c < PFX_MAXC; c++)
			if (lane + 32 * c < HD)
				acc[c] += ds * kp[lane + 32 * c];
	}
#pragma unroll
	for (int c = 0; c < PFX_MAXC; c++)
		if (lane + 32 * c < HD)
			dq[o + lane + 32 * c] += acc[c];
}

/* dpk_p += sum ds q, dpv_p += sum p dout over the tokens and the heads of kv head g; block
 * (p, g). */
static __global__ void __launch_bounds__(32 * PFX_WARPS)
pfx_dkv_kernel(float *dpk, float *dpv, const float *dout, const float *q, const float *pk,
               const float *pv, size_t ps, const float *lse, const float *D, const int32_t *pos,
               pfx_run r, int T, int NH, int NKV, int HD, int P)
{
	__shared__ float sh[PFX_WARPS][2][32 * PFX_MAXC];
	int p = blockIdx.x, gi = blockIdx.y, w = threadIdx.x >> 5, lane = threadIdx.x & 31;
	int G = NH / NKV;
	size_t g = (size_t)gi * HD;
	const float *kp = pk + (size_t)p * ps + g, *vp = pv + (size_t)p * ps + g;
	float ak[PFX_MAXC], av[PFX_MAXC], qv[PFX_MAXC], dv[PFX_MAXC], pr;
#pragma unroll
	for (int c = 0; c < PFX_MAXC; c++)
		ak[c] = av[c] = 0;
	for (int i = w; i < T * G; i += PFX_WARPS) {
		int t = i / G, h = gi * G + i % G;
		if (p < pfx_first(r.window, pos[t], P))
			continue;
		size_t o = (size_t)t * NH * HD + (size_t)h * HD;
		pfx_load(qv, q + o, HD);
		pfx_load(dv, dout + o, HD);
		float ds = pfx_ds(qv, dv, kp, vp, lse[(size_t)h * T + t], D[(size_t)h * T + t], r, HD,
		                  &pr);
#pragma unroll
		for (int c = 0; c < PFX_MAXC; c++) {
			ak[c] += ds * qv[c];
			av[c] += pr * dv[c];
		}
	}
#pragma unroll
	for (int c = 0; c < PFX_MAXC; c++) {
		sh[w][0][lane + 32 * c] = ak[c];
		sh[w][1][lane + 32 * c] = av[c];
	}
	__syncthreads();
	if (w != 0)
		return;
#pragma unroll
	for (int c = 0; c < PFX_MAXC; c++) {
		int d = lane + 32 * c;
		if (d >= HD)
			continue;
		float sk = sh[0][0][d], sv = sh[0][1][d];
		for (int k = 1; k < PFX_WARPS; k++) {
			sk += sh[k][0][d];
			sv += sh[k][1][d];
		}
		dpk[(size_t)p * ps + g + d] += sk;
		dpv[(size_t)p * ps + g + d] += sv;
	}
}

/* ---- entry points ---- */

static pfx_run pfx_opts(const struct attn_opts *o, int HD)
{
	pfx_run r = { attn_window(o), attn_scale(o, HD), o ? o->softcap : 0.0f };
	return r;
}

#define PFX_SHAPE_OK(T, NH, NKV, HD, P)                                                      \
	((T) >= 0 && (NH) > 0 && (NKV) > 0 && (NH) % (NKV) == 0 && (HD) > 0 &&                \
	 (HD) <= 32 * PFX_MAXC && (P) >= 0 && (size_t)(T) * (NH) <= 0x7fffffffu)

/* out: (T, NH, HD) and lse: (NH, T), both merged in place; q: (T, NH, HD); pk, pv: slot p's
 * (NKV, HD) at + p * ps; pos: (T) device; opt: host, or NULL */
extern "C" void attention_prefix_forward_cuda(float *out, float *lse, const float *q,
                                              const float *pk, const float *pv, size_t ps,
                                              const int32_t *pos, const struct attn_opts *opt,
                                              int T, int NH, int NKV, int HD, int P)
{
	CUDA_REQUIRE(PFX_SHAPE_OK(T, NH, NKV, HD, P), "need NH % NKV == 0, 0 < HD <= 256, P >= 0");
	if (T == 0 || P == 0)
		return;
	int rows = T * NH;
	pfx_fwd_kernel<<<(rows + PFX_WARPS - 1) / PFX_WARPS, 32 * PFX_WARPS, 0, qt_cuda_stream()>>>(
		out, lse, q, pk, pv, ps, pos, pfx_opts(opt, HD), T, NH, NKV, HD, P);
	CUDA_LAUNCHED();
}

/* dq: (T, NH, HD) +=; dpk, dpv: as pk, pv +=; dout, q, out: (T, NH, HD) (out, lse the merged
 * ones of the forward); pos: (T) device; opt: host, or NULL */
extern "C" void attention_prefix_backward_cuda(float *dq, float *dpk, float *dpv,
                                               const float *dout, const float *q,
                                               const float *pk, const float *pv, size_t ps,
                                               const float *out, const float *lse,
                                               const int32_t *pos, const struct attn_opts *opt,
                                               int T, int NH, int NKV, int HD, int P)
{
	CUDA_REQUIRE(PFX_SHAPE_OK(T, NH, NKV, HD, P), "need NH % NKV == 0, 0 < HD <= 256, P >= 0");
	CUDA_REQUIRE(P <= 65535 * 16, "too many prefix slots");
	if (T == 0 || P == 0)
		return;
	cudaStream_t st = qt_cuda_stream();
	pfx_run r = pfx_opts(opt, HD);
	int rows = T * NH, nb = (rows + PFX_WARPS - 1) / PFX_WARPS;
	float *D = NULL;
	CUDA_CHECK(cudaMallocAsync((void **)&D, sizeof(float) * (size_t)rows, st));
	pfx_dsum_kernel<<<nb, 32 * PFX_WARPS, 0, st>>>(D, dout, out, T, NH, HD);
	cudaError_t e = cudaGetLastError();
	if (e == cudaSuccess) {
		pfx_dq_kernel<<<nb, 32 * PFX_WARPS, 0, st>>>(dq, dout, q, pk, pv, ps, lse, D, pos, r, T,
		                                             NH, NKV, HD, P);
		e = cudaGetLastError();
	}
	if (e == cudaSuccess) {
		pfx_dkv_kernel<<<dim3(P, NKV), 32 * PFX_WARPS, 0, st>>>(dpk, dpv, dout, q, pk, pv, ps,
		                                                        lse, D, pos, r, T, NH, NKV, HD,
		                                                        P);
		e = cudaGetLastError();
	}
	if (e != cudaSuccess)
		qt_cuda_fail(__FILE__, __LINE__, __func__, "prefix backward kernels",
		             cudaGetErrorString(e));
	CUDA_CHECK(cudaFreeAsync(D, st));
}
