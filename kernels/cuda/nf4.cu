/* qlora-tools: ISC license. */
/*
 * CUDA twin of the dequantization half of kernels/cpu/nf4_codec.c (bitsandbytes semantics:
 * out = code[q] * absmax[e / blocksize], element 2j in the high nibble) and the NF4 base
 * linear: W dequantized to bf16, activations rounded to bf16, cuBLAS GemmEx with fp32
 * accumulation into fp32 outputs. Dequantization is bit-identical to the CPU (one f32
 * multiply; bf16 rounding to nearest even as common/half.h). Quantization stays on the CPU
 * (quantize-nf4 runs once per model). Not yet run on a GPU (kernels/cuda/README).
 */
#include <cuda_bf16.h>

#include "kernels/cuda/common.cuh"

/* f32 -> bf16 bits, round to nearest even, NaN -> 0x7FC0 (qt_f32_to_bf16). */
static __device__ __forceinline__ uint16_t f32_to_bf16_bits(float f)
{
	uint32_t u = __float_as_uint(f);
	if ((u & 0x7FFFFFFFu) > 0x7F800000u)
		return 0x7FC0;
	return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* One thread per packed byte (two elements). OutT float or uint16_t (bf16 bits). */
template <typename OutT>
static __global__ void nf4_dequant_kernel(const uint8_t *packed, const float *absmax,
                                          const float *code, size_t blocksize, size_t n,
                                          OutT *out)
{
	__shared__ float cs[16];
	if (threadIdx.x < 16)
		cs[threadIdx.x] = code[threadIdx.x];
	__syncthreads();
	size_t nbytes = (n + 1) / 2;
	for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < nbytes;
	     j += (size_t)gridDim.x * blockDim.x) {
		uint8_t b = packed[j];
		size_t e = 2 * j;
		float v0 = __fmul_rn(cs[b >> 4], absmax[e / blocksize]);
		if constexpr (sizeof(OutT) == 4)
			out[e] = v0;
		else
			out[e] = f32_to_bf16_bits(v0);
		if (e + 1 < n) {
			float v1 = __fmul_rn(cs[b & 0x0F], absmax[(e + 1) / blocksize]);
			if constexpr (sizeof(OutT) == 4)
				out[e + 1] = v1;
			else
				out[e + 1] = f32_to_bf16_bits(v1);
		}
	}
}

static __global__ void double_dequant_kernel(const uint8_t *q, size_t nb, const float *nested,
                                             const float *map, size_t nbs, float offset,
                                             float *absmax)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < nb;
	     i += (size_t)gridDim.x * blockDim.x)
		absmax[i] = __fadd_rn(__fmul_rn(map[q[i]], nested[i / nbs]), offset);
}

static __global__ void to_bf16_kernel(uint16_t *out, const float *x, size_t n)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		out[i] = f32_to_bf16_bits(x[i]);
}

extern "C" void nf4_dequantize_cuda(const uint8_t *packed, const float *absmax, const float *code,
                                    size_t blocksize, size_t n, float *out)
{
	CUDA_REQUIRE(blocksize >= 2 && blocksize % 2 == 0, "blocksize must be even");
	if (n == 0)
		return;
	nf4_dequant_kernel<float><<<qt_blocks((n + 1) / 2, 256), 256, 0, qt_cuda_stream()>>>(
		packed, absmax, code, blocksize, n, out);
	CUDA_LAUNCHED();
}

extern "C" void nf4_dequantize_bf16_cuda(const uint8_t *packed, const float *absmax,
                                         const float *code, size_t blocksize, size_t n,
                                         uint16_t *out)
{
	CUDA_REQUIRE(blocksize >= 2 && blocksize % 2 == 0, "blocksize must be even");
	if (n == 0)
		return;
	nf4_dequant_kernel<uint16_t><<<qt_blocks((n + 1) / 2, 256), 256, 0, qt_cuda_stream()>>>(
		packed, absmax, code, blocksize, n, out);
	CUDA_LAUNCHED();
}

extern "C" void nf4_double_dequant_cuda(const uint8_t *qabsmax, size_t nb,
                                        const float *nested_absmax, const float *map,
                                        size_t nested_blocksize, float offset, float *absmax)
{
	CUDA_REQUIRE(nested_blocksize > 0, "bad nested blocksize");
	if (nb == 0)
		return;
	double_dequant_kernel<<<qt_blocks(nb, 256), 256, 0, qt_cuda_stream()>>>(
		qabsmax, nb, nested_absmax, map, nested_blocksize, offset, absmax);
	CUDA_LAUNCHED();
}

extern "C" void f32_to_bf16_cuda(uint16_t *out, const float *x, size_t n)
{
	if (n == 0)
		return;
	to_bf16_kernel<<<qt_blocks(n, 256), 256, 0, qt_cuda_stream()>>>(out, x, n);
	CUDA_LAUNCHED();
}

/* bf16 W (OC * C) then bf16 activations (T * max(C, OC)), each 256-byte aligned. */
static size_t align256(size_t b) { return (b + 255) & ~(size_t)255; }

extern "C" size_t nf4_linear_scratch_cuda(int T, int C, int OC)
{
	size_t mx = (size_t)(C > OC ? C : OC);
	return align256((size_t)OC * C * 2) + align256((size_t)T * mx * 2);
}

/* out: (T, OC) = beta * out + alpha * x @ W^T; x: (T, C); W: NF4 (OC, C) */
extern "C" void nf4_linear_forward_cuda(float *out, const float *x, const uint8_t *packed,
                                        const float *absmax, const float *code,
                                        size_t blocksize, int T, int C, int OC, float alpha,
                                        float beta, void *scratch)
{
	CUDA_REQUIRE(T >= 0 && C > 0 && OC > 0, "bad shape");
	CUDA_REQUIRE(scratch != NULL, "no scratch");
	if (T == 0)
		return;
	cublasHandle_t h = qt_cublas();
	CUDA_REQUIRE(h != NULL, "no cuBLAS handle");
	uint16_t *wb = (uint16_t *)scratch;
	uint16_t *xb = (uint16_t *)((char *)scratch + align256((size_t)OC * C * 2));
	nf4_dequantize_bf16_cuda(packed, absmax, code, blocksize, (size_t)OC * C, wb);
	f32_to_bf16_cuda(xb, x, (size_t)T * C);
	CUBLAS_CHECK(qt_cublas_fn.gemm_ex(h, CUBLAS_OP_T, CUBLAS_OP_N, OC, T, C, &alpha, wb,
	                                  CUDA_R_16BF, C, xb, CUDA_R_16BF, C, &beta, out, CUDA_R_32F,
	                                  OC, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/* dx: (T, C) += alpha * dout @ W; dout: (T, OC); W: NF4 (OC, C) */
extern "C" void nf4_linear_backward_x_cuda(float *dx, const float *dout, const uint8_t *packed,
                                           const float *absmax, const float *code,
                                           size_t blocksize, int T, int C, int OC, float alpha,
                                           void *scratch)
{
	CUDA_REQUIRE(T >= 0 && C > 0 && OC > 0, "bad shape");
	CUDA_REQUIRE(scratch != NULL, "no scratch");
	if (T == 0)
		return;
	cublasHandle_t h = qt_cublas();
	CUDA_REQUIRE(h != NULL, "no cuBLAS handle");
	uint16_t *wb = (uint16_t *)scratch;
	uint16_t *gb = (uint16_t *)((char *)scratch + align256((size_t)OC * C * 2));
	float one = 1.0f;
	nf4_dequantize_bf16_cuda(packed, absmax, code, blocksize, (size_t)OC * C, wb);
	f32_to_bf16_cuda(gb, dout, (size_t)T * OC);
	CUBLAS_CHECK(qt_cublas_fn.gemm_ex(h, CUBLAS_OP_N, CUBLAS_OP_N, C, T, OC, &alpha, wb,
	                                  CUDA_R_16BF, C, gb, CUDA_R_16BF, OC, &one, dx, CUDA_R_32F, C,
	                                  CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}
