/* qlora-tools: ISC license. */
/*
 * CUDA twin of kernels/cpu/matvec.c: the decoding linear layer (T <= MATVEC_MAX_T rows of
 * input), f32 or NF4 weight, that streams each weight row once. One warp per output row; in
 * the NF4 form each lane reads 4 packed bytes (8 weights, one absmax) at a time when rows are
 * 8-element aligned, dequantizes in registers (f32(code * absmax), then the same bf16/f16 cast
 * as the CPU) and never writes the weight anywhere: the bandwidth-bound path of batch-1
 * decode. Same arguments as the CPU; work and n_threads are accepted and ignored. Sums are
 * per-lane then a warp tree (not the CPU's 16 partial sums): parity within rounding.
 * Not yet run on a GPU (kernels/cuda/README).
 */
#include <cuda_fp16.h>

#include "kernels/cuda/common.cuh"

extern "C" {
#include "kernels/matvec.h"
}

#define MV_WARPS 8

/* The bitsandbytes cast of a dequantized weight: 0 none, 1 bf16, 2 f16 (nearest even). */
static __device__ __forceinline__ float mv_round(float w, int round_to)
{
	if (round_to == 1) {
		uint32_t u = __float_as_uint(w);
		if ((u & 0x7FFFFFFFu) > 0x7F800000u)
			return __uint_as_float(0x7FC00000u);
		return __uint_as_float(((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16) << 16);
	}
	if (round_to == 2)
		return __half2float(__float2half_rn(w));
	return w;
}

/* out: (T, OC); x: (T, C); W: (OC, C) f32, or NF4 (packed, absmax, code, bs) when W NULL;
 * T <= MAXT (the accumulators are registers: 1 for batch-1 decode, 4, or MATVEC_MAX_T) */
template <int MAXT>
static __global__ void __launch_bounds__(32 * MV_WARPS)
matvec_kernel(float *out, const float *x, const float *W, const uint8_t *packed,
              const float *absmax, const float *code, size_t bs, int round_to, int T, int C,
              int OC, float beta, int fast)
{
	__shared__ float cs[16];
	if (!W && threadIdx.x < 16)
		cs[threadIdx.x] = code[threadIdx.x];
	__syncthreads();
	int lane = threadIdx.x & 31, o = blockIdx.x * MV_WARPS + (threadIdx.x >> 5);
	if (o >= OC)
		return;
	float acc[MAXT];
#pragma unroll
	for (int t = 0; t < MAXT; t++)
		acc[t] = 0;
	size_t e0 = (size_t)o * C;
	if (fast) { /* C % 8 == 0, 16-byte aligned x and W, 4-byte aligned packed */
		for (int c = 8 * lane; c < C; c += 256) {
			float w[8];
			if (W) {
				float4 a = __ldg((const float4 *)(W + e0 + c));
				float4 b = __ldg((const float4 *)(W + e0 + c + 4));
				w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w;
				w[4] = b.x, w[5] = b.y, w[6] = b.z, w[7] = b.w;
			} else {
				uint32_t u = __ldg((const unsigned int *)(packed + (e0 + c) / 2));
				float am = absmax[(e0 + c) / bs];
#pragma unroll
				for (int k = 0; k < 4; k++) {
					uint32_t byte = (u >> (8 * k)) & 0xFFu;
					w[2 * k] = mv_round(__fmul_rn(cs[byte >> 4], am), round_to);
					w[2 * k + 1] = mv_round(__fmul_rn(cs[byte & 15u], am), round_to);
				}
			}
#pragma unroll
			for (int t = 0; t < MAXT; t++)
				if (t < T) {
					const float *xr = x + (size_t)t * C + c;
					float4 a = __ldg((const float4 *)xr), b = __ldg((const float4 *)(xr + 4));
					acc[t] += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w +
					          w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
				}
		}
	} else {
		for (int c = lane; c < C; c += 32) {
			size_t e = e0 + c;
			float w;
			if (W) {
				w = W[e];
			} else {
				uint8_t byte = packed[e >> 1];
				int q = e & 1 ? byte & 15 : byte >> 4;
				w = mv_round(__fmul_rn(cs[q], absmax[e / bs]), round_to);
			}
#pragma unroll
			for (int t = 0; t < MAXT; t++)
				if (t < T)
					acc[t] += w * x[(size_t)t * C + c];
		}
	}
#pragma unroll
	for (int t = 0; t < MAXT; t++)
		if (t < T) {
			float s = warp_sum(acc[t]);
			if (lane == 0) {
				float *y = out + (size_t)t * OC + o;
				*y = (beta != 0.0f ? *y : 0.0f) + s;
			}
		}
}

static __global__ void mv_dequant_kernel(float *out, const uint8_t *packed, const float *absmax,
                                         const float *code, size_t bs, int round_to, size_t n)
{
	for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n;
	     e += (size_t)gridDim.x * blockDim.x) {
		uint8_t byte = packed[e >> 1];
		int q = e & 1 ? byte & 15 : byte >> 4;
		out[e] = mv_round(__fmul_rn(code[q], absmax[e / bs]), round_to);
	}
}

static int aligned(const void *p, uintptr_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static void mv_launch(float *out, const float *x, const float *W, const uint8_t *packed,
                      const float *absmax, const float *code, size_t bs, int round_to, int T,
                      int C, int OC, float beta)
{
	CUDA_REQUIRE(T >= 0 && T <= MATVEC_MAX_T && C > 0 && OC > 0, "need T <= MATVEC_MAX_T");
	CUDA_REQUIRE(W || (bs >= 8 && bs % 8 == 0), "NF4 blocksize must be a multiple of 8");
	if (T == 0)
		return;
	int fast = C % 8 == 0 && aligned(x, 16) && (W ? aligned(W, 16) : aligned(packed, 4));
	unsigned g = (unsigned)((OC + MV_WARPS - 1) / MV_WARPS);
	cudaStream_t st = qt_cuda_stream();
	if (T == 1)
		matvec_kernel<1><<<g, 32 * MV_WARPS, 0, st>>>(out, x, W, packed, absmax, code, bs,
		                                              round_to, T, C, OC, beta, fast);
	else if (T <= 4)
		matvec_kernel<4><<<g, 32 * MV_WARPS, 0, st>>>(out, x, W, packed, absmax, code, bs,
		                                              round_to, T, C, OC, beta, fast);
	else
		matvec_kernel<MATVEC_MAX_T><<<g, 32 * MV_WARPS, 0, st>>>(
			out, x, W, packed, absmax, code, bs, round_to, T, C, OC, beta, fast);
	CUDA_LAUNCHED();
}

/* out: (T, OC); x: (T, C); W: (OC, C) */
extern "C" void matvec_forward_cuda(float *out, const float *x, const float *W, int T, int C,
                                    int OC, float beta, int n_threads)
{
	(void)n_threads;
	mv_launch(out, x, W, NULL, NULL, NULL, 0, 0, T, C, OC, beta);
}

extern "C" void matvec_nf4_forward_cuda(float *out, const float *x, const uint8_t *packed,
                                        const float *absmax, const float *code, size_t blocksize,
                                        int round_to, int T, int C, int OC, float beta,
                                        float *work, int n_threads)
{
	(void)work, (void)n_threads;
	mv_launch(out, x, NULL, packed, absmax, code, blocksize, round_to, T, C, OC, beta);
}

/* out: (OC * C) */
extern "C" void matvec_nf4_dequant_cuda(float *out, const uint8_t *packed, const float *absmax,
                                        const float *code, size_t blocksize, int round_to, int C,
                                        int OC, int n_threads)
{
	(void)n_threads;
	size_t n = (size_t)OC * C;
	CUDA_REQUIRE(blocksize > 0, "bad blocksize");
	if (n == 0)
		return;
	mv_dequant_kernel<<<qt_blocks(n, 256), 256, 0, qt_cuda_stream()>>>(out, packed, absmax, code,
	                                                                   blocksize, round_to, n);
	CUDA_LAUNCHED();
}
