/* qlora-tools: ISC license. */
/*
 * CUDA twin of kernels/cpu/attention.c: causal GQA attention with segment ids, a sliding
 * window, a score scale and Gemma-2's soft cap (struct attn_opts), forward (with the row
 * log-sum-exp), backward and KV-cache decode, FlashAttention-style: K/V (and Q/dO)
 * tiles go through shared memory, softmax is computed online, and no (T, T) score or
 * probability buffer ever exists in global memory. fp32 on CUDA cores (SIMT, no tensor cores
 * yet). Deterministic: no atomics (dK/dV are owned by one block per key tile and KV head,
 * dQ by one block per query tile and head).
 *
 * Work split (lanes of a warp over the 32 keys of a tile, or over the 32 queries of a tile):
 *   forward / decode / dQ: block = 4 warps, BQ query rows per block, each warp owns BQ/4 rows;
 *     per key tile lane j scores key j, the warp reduces max/sum, and each lane accumulates
 *     HD/32 output dimensions.
 *   dK/dV: block = 4 warps over a tile of KB keys (KB/4 per warp; KB 32, or 16 above
 *     HD 128 to stay in 99 KiB of shared memory, the opt-in limit of sm_86/89/120); per query
 *     tile lane i scores query i against each of the warp's keys, and each lane accumulates
 *     HD/32 dimensions of dK and dV for those keys.
 * HD <= 256 (DPL = dims per lane, a template parameter: 1, 2, 3, 4, 6 or 8; a head narrower
 * than 32 * DPL is zero-padded in shared memory). Shared memory per block at HD 256: forward
 * 82 KB, dQ 99 KB, dK/dV 97 KB. The soft cap s = tanh(s / c) * c follows the scale, as
 * transformers' eager attention; its backward multiplies dS by 1 - tanh(s / c)^2 (from the
 * uncapped score, as the CPU). Tiles wholly outside a sliding window are skipped. The
 * backward allocates D = rowsum(dO * O), (B, NH, T) floats, stream-ordered (cudaMallocAsync)
 * while it runs.
 * Not yet run on a GPU (kernels/cuda/README).
 */
#include <math.h>

#include "kernels/attention.h"
#include "kernels/cuda/common.cuh"

#define ATT_WARPS 4
#define ATT_THREADS (32 * ATT_WARPS)
#define ATT_BK 32  /* keys per tile (one per lane) */
#define ATT_BQ 16  /* query rows per block in forward and dQ */
#define ATT_RPW (ATT_BQ / ATT_WARPS)
#define ATT_MAX_HD 256

/* The score after the soft cap c (0: none): tanh(s / c) * c, as kernels/attention.h. */
static __device__ __forceinline__ float att_cap(float s, float c)
{
	return c > 0 ? __fmul_rn(tanhf(__fdiv_rn(s, c)), c) : s;
}

/* dS of a capped score from the uncapped one's: ds * (1 - tanh(raw / c)^2). */
static __device__ __forceinline__ float att_cap_grad(float ds, float raw, float c)
{
	if (c <= 0)
		return ds;
	float th = tanhf(__fdiv_rn(raw, c));
	return __fmul_rn(ds, __fsub_rn(1.0f, __fmul_rn(th, th)));
}

/* The first key tile (a multiple of ATT_BK) a query at position t0 or later can see. */
static __device__ __forceinline__ int att_first_tile(int t0, int window)
{
	int j = window > 0 && t0 - window + 1 > 0 ? t0 - window + 1 : 0;
	return j / ATT_BK * ATT_BK;
}

/* Loads rows [r0, r0 + nrows) of a (rows, heads, HD) tensor, head hd, into s[nrows][ld],
 * zero beyond the tensor's rows (limit) and beyond HD. */
static __device__ void load_tile(float *s, int ld, const float *src, int r0, int nrows,
                                 int limit, size_t row_stride, int HD, int W)
{
	for (int idx = threadIdx.x; idx < nrows * W; idx += blockDim.x) {
		int r = idx / W, d = idx % W;
		s[r * ld + d] = r0 + r < limit && d < HD ? src[(size_t)(r0 + r) * row_stride + d] : 0.0f;
	}
}

/*
 * Forward and decode. Query row t of batch b sits at position base + t (base = past[b], or 0)
 * and sees keys window_start(base + t, window) <= j <= base + t (and seg[j] == seg[t] when seg). q, out: (B, Tq, NH, HD);
 * k, v: (B, Lk, NKV, HD); lse: (B, NH, Tq) or NULL.
 */
template <int DPL>
static __global__ void __launch_bounds__(ATT_THREADS)
attn_fwd_kernel(float *out, float *lse, const float *q, const float *k, const float *v,
                const int32_t *seg, const int32_t *past, int window, int Tq, int Lk, int NH,
                int NKV, int HD, float scale, float cap)
{
	constexpr int W = 32 * DPL, P = W + 1;
	extern __shared__ float smem[];
	float *sq = smem, *sk = sq + ATT_BQ * W, *sv = sk + ATT_BK * P;
	int *sseg = (int *)(sv + ATT_BK * W);
	int b = blockIdx.z, h = blockIdx.y, g = h / (NH / NKV);
	int t0 = blockIdx.x * ATT_BQ, lane = threadIdx.x & 31, w = threadIdx.x >> 5;
	int base = past ? past[b] : 0;
	size_t qs = (size_t)NH * HD, ks = (size_t)NKV * HD;
	const float *qb = q + (size_t)b * Tq * qs + (size_t)h * HD;
	const float *kb = k + (size_t)b * Lk * ks + (size_t)g * HD;
	const float *vb = v + (size_t)b * Lk * ks + (size_t)g * HD;
	const int32_t *sb = seg ? seg + (size_t)b * Tq : NULL;

	load_tile(sq, W, qb, t0, ATT_BQ, Tq, qs, HD, W);
	float m[ATT_RPW], l[ATT_RPW], acc[ATT_RPW][DPL];
	int segq[ATT_RPW];
#pragma unroll
	for (int r = 0; r < ATT_RPW; r++) {
		int t = t0 + w * ATT_RPW + r;
		m[r] = -INFINITY;
		l[r] = 0;
		segq[r] = sb && t < Tq ? sb[t] : 0;
#pragma unroll
		for (int c = 0; c < DPL; c++)
			acc[r][c] = 0;
	}
	int tlast = min(t0 + ATT_BQ, Tq) - 1;
	int nkeys = base + tlast + 1;
	for (int kt = att_first_tile(base + t0, window); kt < nkeys; kt += ATT_BK) {
		__syncthreads();
		load_tile(sk, P, kb, kt, ATT_BK, nkeys, ks, HD, W);
		load_tile(sv, W, vb, kt, ATT_BK, nkeys, ks, HD, W);
		if (threadIdx.x < ATT_BK)
			sseg[threadIdx.x] = sb && kt + (int)threadIdx.x < nkeys ? sb[kt + threadIdx.x] : 0;
		__syncthreads();
#pragma unroll
		for (int r = 0; r < ATT_RPW; r++) {
			int row = w * ATT_RPW + r, t = t0 + row;
			if (t >= Tq)
				continue;
			int j = kt + lane;
			bool valid = j <= base + t && (window <= 0 || base + t - j < window) &&
			             (!sb || sseg[lane] == segq[r]);
			float s = 0;
#pragma unroll 8
			for (int d = 0; d < W; d++)
				s += sq[row * W + d] * sk[lane * P + d];
			s = valid ? att_cap(s * scale, cap) : -INFINITY;
			float tmax = warp_max(s);
			if (tmax == -INFINITY)
				continue;
			float mn = fmaxf(m[r], tmax);
			float corr = expf(m[r] - mn);
			float p = valid ? expf(s - mn) : 0.0f;
			l[r] = l[r] * corr + warp_sum(p);
#pragma unroll
			for (int c = 0; c < DPL; c++)
				acc[r][c] *= corr;
			for (int jj = 0; jj < ATT_BK; jj++) {
				float pj = __shfl_sync(0xffffffffu, p, jj);
#pragma unroll
				for (int c = 0; c < DPL; c++)
					acc[r][c] += pj * sv[jj * W + lane + 32 * c];
			}
			m[r] = mn;
		}
	}
#pragma unroll
	for (int r = 0; r < ATT_RPW; r++) {
		int t = t0 + w * ATT_RPW + r;
		if (t >= Tq)
			continue;
		float *o = out + (size_t)b * Tq * qs + (size_t)t * qs + (size_t)h * HD;
		float inv = 1.0f / l[r];
#pragma unroll
		for (int c = 0; c < DPL; c++)
			if (lane + 32 * c < HD)
				o[lane + 32 * c] = acc[r][c] * inv;
		if (lse && lane == 0)
			lse[((size_t)b * NH + h) * Tq + t] = m[r] + logf(l[r]);
	}
}

/* D[(b, h, t)] = dot(dout, out) of each query row; one warp per row. */
static __global__ void attn_dsum_kernel(float *D, const float *dout, const float *out, int B,
                                        int T, int NH, int HD)
{
	size_t rows = (size_t)B * T * NH;
	int lane = threadIdx.x & 31;
	for (size_t i = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32; i < rows;
	     i += (size_t)gridDim.x * blockDim.x / 32) {
		const float *a = dout + i * HD, *o = out + i * HD;
		float s = 0;
		for (int d = lane; d < HD; d += 32)
			s += a[d] * o[d];
		s = warp_sum(s);
		int h = (int)(i % NH);
		size_t bt = i / NH;
		int t = (int)(bt % T), b = (int)(bt / T);
		if (lane == 0)
			D[((size_t)b * NH + h) * T + t] = s;
	}
}

/* dq += sum_j ds_tj k_j, ds = p (dout . v_j - D) * scale; blocks as the forward. */
template <int DPL>
static __global__ void __launch_bounds__(ATT_THREADS)
attn_dq_kernel(float *dq, const float *dout, const float *q, const float *k, const float *v,
               const float *lse, const float *D, const int32_t *seg, int window, int T, int NH,
               int NKV, int HD, float scale, float cap)
{
	constexpr int W = 32 * DPL, P = W + 1;
	extern __shared__ float smem[];
	float *sq = smem, *sdo = sq + ATT_BQ * W, *sk = sdo + ATT_BQ * W, *sv = sk + ATT_BK * P;
	int *sseg = (int *)(sv + ATT_BK * P);
	int b = blockIdx.z, h = blockIdx.y, g = h / (NH / NKV);
	int t0 = blockIdx.x * ATT_BQ, lane = threadIdx.x & 31, w = threadIdx.x >> 5;
	size_t qs = (size_t)NH * HD, ks = (size_t)NKV * HD;
	const float *qb = q + (size_t)b * T * qs + (size_t)h * HD;
	const float *db = dout + (size_t)b * T * qs + (size_t)h * HD;
	const float *kb = k + (size_t)b * T * ks + (size_t)g * HD;
	const float *vb = v + (size_t)b * T * ks + (size_t)g * HD;
	const int32_t *sb = seg ? seg + (size_t)b * T : NULL;
	size_t lrow = ((size_t)b * NH + h) * T;

	load_tile(sq, W, qb, t0, ATT_BQ, T, qs, HD, W);
	load_tile(sdo, W, db, t0, ATT_BQ, T, qs, HD, W);
	float acc[ATT_RPW][DPL], lr[ATT_RPW], Dr[ATT_RPW];
	int segq[ATT_RPW];
#pragma unroll
	for (int r = 0; r < ATT_RPW; r++) {
		int t = t0 + w * ATT_RPW + r;
		lr[r] = t < T ? lse[lrow + t] : 0;
		Dr[r] = t < T ? D[lrow + t] : 0;
		segq[r] = sb && t < T ? sb[t] : 0;
#pragma unroll
		for (int c = 0; c < DPL; c++)
			acc[r][c] = 0;
	}
	int nkeys = min(t0 + ATT_BQ, T);
	for (int kt = att_first_tile(t0, window); kt < nkeys; kt += ATT_BK) {
		__syncthreads();
		load_tile(sk, P, kb, kt, ATT_BK, nkeys, ks, HD, W);
		load_tile(sv, P, vb, kt, ATT_BK, nkeys, ks, HD, W);
		if (threadIdx.x < ATT_BK)
			sseg[threadIdx.x] = sb && kt + (int)threadIdx.x < nkeys ? sb[kt + threadIdx.x] : 0;
		__syncthreads();
#pragma unroll
		for (int r = 0; r < ATT_RPW; r++) {
			int row = w * ATT_RPW + r, t = t0 + row;
			if (t >= T || kt > t)
				continue;
			int j = kt + lane;
			bool valid = j <= t && (window <= 0 || t - j < window) &&
			             (!sb || sseg[lane] == segq[r]);
			float s = 0, dp = 0;
#pragma unroll 8
			for (int d = 0; d < W; d++) {
				s += sq[row * W + d] * sk[lane * P + d];
				dp += sdo[row * W + d] * sv[lane * P + d];
			}
			float raw = s * scale;
			float p = valid ? expf(att_cap(raw, cap) - lr[r]) : 0.0f;
			float ds = att_cap_grad(p * (dp - Dr[r]) * scale, raw, cap);
			for (int jj = 0; jj < ATT_BK; jj++) {
				float dj = __shfl_sync(0xffffffffu, ds, jj);
#pragma unroll
				for (int c = 0; c < DPL; c++)
					acc[r][c] += dj * sk[jj * P + lane + 32 * c];
			}
		}
	}
#pragma unroll
	for (int r = 0; r < ATT_RPW; r++) {
		int t = t0 + w * ATT_RPW + r;
		if (t >= T)
			continue;
		float *o = dq + (size_t)b * T * qs + (size_t)t * qs + (size_t)h * HD;
#pragma unroll
		for (int c = 0; c < DPL; c++)
			if (lane + 32 * c < HD)
				o[lane + 32 * c] += acc[r][c];
	}
}

/* Keys per block in dK/dV: 32, or 16 above HD 128 (shared memory). */
#define ATT_KB(DPL) ((DPL) > 4 ? 16 : 32)

/* dk_j += sum_{h in group, t} ds_tj q_t;  dv_j += sum p_tj dout_t; block: KB keys, one KV
 * head, KB / 4 keys per warp. */
template <int DPL>
static __global__ void __launch_bounds__(ATT_THREADS)
attn_dkv_kernel(float *dk, float *dv, const float *dout, const float *q, const float *k,
                const float *v, const float *lse, const float *D, const int32_t *seg, int window,
                int T, int NH, int NKV, int HD, float scale, float cap)
{
	constexpr int W = 32 * DPL, P = W + 1, KB = ATT_KB(DPL), ATT_KPW = KB / ATT_WARPS;
	extern __shared__ float smem[];
	float *sq = smem, *sdo = sq + ATT_BK * P, *sk = sdo + ATT_BK * P, *sv = sk + KB * W;
	float *slse = sv + KB * W, *sD = slse + ATT_BK;
	int *sseg = (int *)(sD + ATT_BK);
	int b = blockIdx.z, g = blockIdx.y, j0 = blockIdx.x * KB;
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, G = NH / NKV;
	size_t qs = (size_t)NH * HD, ks = (size_t)NKV * HD;
	const float *kb = k + (size_t)b * T * ks + (size_t)g * HD;
	const float *vb = v + (size_t)b * T * ks + (size_t)g * HD;
	const int32_t *sb = seg ? seg + (size_t)b * T : NULL;

	load_tile(sk, W, kb, j0, KB, T, ks, HD, W);
	load_tile(sv, W, vb, j0, KB, T, ks, HD, W);
	/* the last query that sees a key of the tile under a window: j0 + KB - 1 + window - 1 */
	int qend = window > 0 ? min(T, j0 + KB - 1 + window) : T;
	float ak[ATT_KPW][DPL], av[ATT_KPW][DPL];
	int segk[ATT_KPW];
#pragma unroll
	for (int kk = 0; kk < ATT_KPW; kk++) {
		int j = j0 + w * ATT_KPW + kk;
		segk[kk] = sb && j < T ? sb[j] : 0;
#pragma unroll
		for (int c = 0; c < DPL; c++)
			ak[kk][c] = av[kk][c] = 0;
	}
	for (int hh = 0; hh < G; hh++) {
		int h = g * G + hh;
		const float *qb = q + (size_t)b * T * qs + (size_t)h * HD;
		const float *db = dout + (size_t)b * T * qs + (size_t)h * HD;
		size_t lrow = ((size_t)b * NH + h) * T;
		for (int qt = j0; qt < qend; qt += ATT_BK) {
			__syncthreads();
			load_tile(sq, P, qb, qt, ATT_BK, T, qs, HD, W);
			load_tile(sdo, P, db, qt, ATT_BK, T, qs, HD, W);
			if (threadIdx.x < ATT_BK) {
				int t = qt + threadIdx.x;
				slse[threadIdx.x] = t < T ? lse[lrow + t] : 0;
				sD[threadIdx.x] = t < T ? D[lrow + t] : 0;
				sseg[threadIdx.x] = sb && t < T ? sb[t] : 0;
			}
			__syncthreads();
			int t = qt + lane;
#pragma unroll
			for (int kk = 0; kk < ATT_KPW; kk++) {
				int jl = w * ATT_KPW + kk, j = j0 + jl;
				if (j >= T)
					continue;
				bool valid = t < T && j <= t && (window <= 0 || t - j < window) &&
				             (!sb || sseg[lane] == segk[kk]);
				float s = 0, dp = 0;
#pragma unroll 8
				for (int d = 0; d < W; d++) {
					s += sq[lane * P + d] * sk[jl * W + d];
					dp += sdo[lane * P + d] * sv[jl * W + d];
				}
				float raw = s * scale;
				float p = valid ? expf(att_cap(raw, cap) - slse[lane]) : 0.0f;
				float ds = att_cap_grad(p * (dp - sD[lane]) * scale, raw, cap);
				for (int ii = 0; ii < ATT_BK; ii++) {
					float pi = __shfl_sync(0xffffffffu, p, ii);
					float di = __shfl_sync(0xffffffffu, ds, ii);
#pragma unroll
					for (int c = 0; c < DPL; c++) {
						av[kk][c] += pi * sdo[ii * P + lane + 32 * c];
						ak[kk][c] += di * sq[ii * P + lane + 32 * c];
					}
				}
			}
		}
	}
#pragma unroll
	for (int kk = 0; kk < ATT_KPW; kk++) {
		int j = j0 + w * ATT_KPW + kk;
		if (j >= T)
			continue;
		size_t o = (size_t)b * T * ks + (size_t)j * ks + (size_t)g * HD;
#pragma unroll
		for (int c = 0; c < DPL; c++)
			if (lane + 32 * c < HD) {
				dk[o + lane + 32 * c] += ak[kk][c];
				dv[o + lane + 32 * c] += av[kk][c];
			}
	}
}

/* ---- launchers ---- */

static size_t fwd_smem(int DPL)
{
	int W = 32 * DPL;
	return sizeof(float) * ((size_t)ATT_BQ * W + (size_t)ATT_BK * (W + 1) + (size_t)ATT_BK * W) +
	       sizeof(int) * ATT_BK;
}

static size_t dq_smem(int DPL)
{
	int W = 32 * DPL;
	return sizeof(float) * (2 * (size_t)ATT_BQ * W + 2 * (size_t)ATT_BK * (W + 1)) +
	       sizeof(int) * ATT_BK;
}

static size_t dkv_smem(int DPL)
{
	int W = 32 * DPL;
	return sizeof(float) * (2 * (size_t)ATT_BK * (W + 1) + 2 * (size_t)ATT_KB(DPL) * W +
	                        2 * ATT_BK) +
	       sizeof(int) * ATT_BK;
}

/* What one call runs with: the layer's options resolved as the CPU resolves them. */
struct att_run {
	int window;
	float scale, cap;
};

static att_run att_opts(const struct attn_opts *o, int HD)
{
	att_run r = { attn_window(o), attn_scale(o, HD), o ? o->softcap : 0.0f };
	return r;
}

template <int DPL>
static void fwd_launch(float *out, float *lse, const float *q, const float *k, const float *v,
                       const int32_t *seg, const int32_t *past, att_run r, int B, int Tq, int Lk,
                       int NH, int NKV, int HD)
{
	size_t sm = fwd_smem(DPL);
	CUDA_CHECK(cudaFuncSetAttribute(attn_fwd_kernel<DPL>,
	                                cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm));
	dim3 grid((Tq + ATT_BQ - 1) / ATT_BQ, NH, B);
	attn_fwd_kernel<DPL><<<grid, ATT_THREADS, sm, qt_cuda_stream()>>>(
		out, lse, q, k, v, seg, past, r.window, Tq, Lk, NH, NKV, HD, r.scale, r.cap);
	CUDA_LAUNCHED();
}

template <int DPL>
static void bwd_launch(float *dq, float *dk, float *dv, const float *dout, const float *q,
                       const float *k, const float *v, const float *lse, const float *D,
                       const int32_t *seg, att_run r, int B, int T, int NH, int NKV, int HD)
{
	size_t s1 = dq_smem(DPL), s2 = dkv_smem(DPL);
	int kb = ATT_KB(DPL);
	CUDA_CHECK(cudaFuncSetAttribute(attn_dq_kernel<DPL>,
	                                cudaFuncAttributeMaxDynamicSharedMemorySize, (int)s1));
	CUDA_CHECK(cudaFuncSetAttribute(attn_dkv_kernel<DPL>,
	                                cudaFuncAttributeMaxDynamicSharedMemorySize, (int)s2));
	dim3 g1((T + ATT_BQ - 1) / ATT_BQ, NH, B), g2((T + kb - 1) / kb, NKV, B);
	attn_dq_kernel<DPL><<<g1, ATT_THREADS, s1, qt_cuda_stream()>>>(
		dq, dout, q, k, v, lse, D, seg, r.window, T, NH, NKV, HD, r.scale, r.cap);
	CUDA_LAUNCHED();
	attn_dkv_kernel<DPL><<<g2, ATT_THREADS, s2, qt_cuda_stream()>>>(
		dk, dv, dout, q, k, v, lse, D, seg, r.window, T, NH, NKV, HD, r.scale, r.cap);
	CUDA_LAUNCHED();
}

/* Dims per lane for a head of HD: the smallest instantiated 32 * DPL >= HD. */
static int att_dpl(int HD)
{
	int n = (HD + 31) / 32;
	return n <= 4 ? n : n <= 6 ? 6 : 8;
}

/* One instantiation per DPL, chosen at run time: CALL(D) expands to a launch with DPL D. */
#define ATT_DISPATCH(HD, CALL)                                                                \
	switch (att_dpl(HD)) {                                                                \
	case 1: CALL(1); break;                                                               \
	case 2: CALL(2); break;                                                               \
	case 3: CALL(3); break;                                                               \
	case 4: CALL(4); break;                                                               \
	case 6: CALL(6); break;                                                               \
	default: CALL(8); break;                                                              \
	}

#define ATT_SHAPE_OK(NH, NKV, HD)                                                            \
	((NH) > 0 && (NKV) > 0 && (NH) % (NKV) == 0 && (HD) > 0 && (HD) <= ATT_MAX_HD)
#define ATT_SHAPE_MSG "need NH % NKV == 0 and 0 < HD <= 256"

/* out: (B, T, NH, HD); lse: (B, NH, T) or NULL; q: (B, T, NH, HD); k, v: (B, T, NKV, HD);
 * seg: (B, T) or NULL; opt: host, or NULL */
extern "C" void attention_forward_cuda(float *out, float *lse, const float *q, const float *k,
                                       const float *v, const int32_t *seg,
                                       const struct attn_opts *opt, int B, int T, int NH,
                                       int NKV, int HD)
{
	CUDA_REQUIRE(ATT_SHAPE_OK(NH, NKV, HD), ATT_SHAPE_MSG);
	CUDA_REQUIRE(B >= 0 && T >= 0 && T <= 65535 * ATT_BQ, "bad B or T");
	if (B == 0 || T == 0)
		return;
	att_run r = att_opts(opt, HD);
#define FWD(D) fwd_launch<D>(out, lse, q, k, v, seg, NULL, r, B, T, T, NH, NKV, HD)
	ATT_DISPATCH(HD, FWD)
#undef FWD
}

/* out, q: (B, TN, NH, HD); kc, vc: (B, L, NKV, HD); past: (B) device, past[b] + TN <= L;
 * opt: host, or NULL */
extern "C" void attention_decode_cuda(float *out, const float *q, const float *kc,
                                      const float *vc, const int32_t *past,
                                      const struct attn_opts *opt, int B, int TN, int L, int NH,
                                      int NKV, int HD)
{
	CUDA_REQUIRE(ATT_SHAPE_OK(NH, NKV, HD), ATT_SHAPE_MSG);
	CUDA_REQUIRE(B >= 0 && TN >= 0 && TN <= L, "bad B, TN or L");
	if (B == 0 || TN == 0)
		return;
	att_run r = att_opts(opt, HD);
#define DEC(D) fwd_launch<D>(out, NULL, q, kc, vc, NULL, past, r, B, TN, L, NH, NKV, HD)
	ATT_DISPATCH(HD, DEC)
#undef DEC
}

/* dq: (B, T, NH, HD) +=; dk, dv: (B, T, NKV, HD) +=; dout, q, out: (B, T, NH, HD);
 * k, v: (B, T, NKV, HD); lse: (B, NH, T); seg: (B, T) or NULL; opt: host, or NULL */
extern "C" void attention_backward_cuda(float *dq, float *dk, float *dv, const float *dout,
                                        const float *q, const float *k, const float *v,
                                        const float *out, const float *lse, const int32_t *seg,
                                        const struct attn_opts *opt, int B, int T, int NH,
                                        int NKV, int HD)
{
	CUDA_REQUIRE(ATT_SHAPE_OK(NH, NKV, HD), ATT_SHAPE_MSG);
	CUDA_REQUIRE(B >= 0 && T >= 0 && T <= 65535 * ATT_BQ, "bad B or T");
	if (B == 0 || T == 0)
		return;
	cudaStream_t st = qt_cuda_stream();
	att_run r = att_opts(opt, HD);
	float *D = NULL;
	size_t rows = (size_t)B * T * NH;
	CUDA_CHECK(cudaMallocAsync((void **)&D, sizeof(float) * rows, st));
	attn_dsum_kernel<<<qt_blocks(rows * 32, 256), 256, 0, st>>>(D, dout, out, B, T, NH, HD);
	cudaError_t e = cudaGetLastError();
	if (e == cudaSuccess) {
#define BWD(D_) bwd_launch<D_>(dq, dk, dv, dout, q, k, v, lse, D, seg, r, B, T, NH, NKV, HD)
		ATT_DISPATCH(HD, BWD)
#undef BWD
	} else {
		qt_cuda_fail(__FILE__, __LINE__, __func__, "attn_dsum_kernel", cudaGetErrorString(e));
	}
	CUDA_CHECK(cudaFreeAsync(D, st));
}
