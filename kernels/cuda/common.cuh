/* qlora-tools: ISC license. */
/*
 * Private helpers of the CUDA backend (included by the kernels/cuda .cu files only): error
 * recording, the current stream and cuBLAS handle, launch checks, the counter-based uniform
 * shared with the CPU, and warp/block reductions.
 */
#ifndef QT_KERNELS_CUDA_COMMON_CUH
#define QT_KERNELS_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/cuda/cuda.h"

/* Records the first error of the thread ("file:line: func: what: msg"); later ones are dropped. */
void qt_cuda_fail(const char *file, int line, const char *func, const char *what,
                  const char *msg);
cudaStream_t qt_cuda_stream(void);
/* The thread's cuBLAS handle bound to the current stream, or NULL (error recorded). */
cublasHandle_t qt_cublas(void);

/* The cuBLAS entry points used here, from the library opened with dlopen before the first
 * handle is made (qt_cublas): every call goes through a handle from qt_cublas, so they are
 * set by then. (Linked as a DT_NEEDED library, cuBLAS's load alone made every process of
 * every tool ~150 MB larger, CPU runs included.) */
struct qt_cublas_api {
	decltype(&cublasCreate_v2)    create;
	decltype(&cublasSetStream_v2) set_stream;
	decltype(&cublasSetMathMode)  set_math_mode;
	decltype(&cublasSgemm_v2)     sgemm;
	/* the exported one (C++ overloads it with a cudaDataType compute type, inline) */
	cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
	                          int, const void *, const void *, cudaDataType, int, const void *,
	                          cudaDataType, int, const void *, void *, cudaDataType, int,
	                          cublasComputeType_t, cublasGemmAlgo_t);
};
extern struct qt_cublas_api qt_cublas_fn;
const char *qt_cublas_status_str(cublasStatus_t s);

/* In a void entry point: record and return when a CUDA call fails. */
#define CUDA_CHECK(call)                                                                      \
	do {                                                                                  \
		cudaError_t e_ = (call);                                                      \
		if (e_ != cudaSuccess) {                                                      \
			qt_cuda_fail(__FILE__, __LINE__, __func__, #call, cudaGetErrorString(e_)); \
			return;                                                               \
		}                                                                             \
	} while (0)

#define CUBLAS_CHECK(call)                                                                    \
	do {                                                                                  \
		cublasStatus_t s_ = (call);                                                   \
		if (s_ != CUBLAS_STATUS_SUCCESS) {                                            \
			qt_cuda_fail(__FILE__, __LINE__, __func__, #call, qt_cublas_status_str(s_)); \
			return;                                                               \
		}                                                                             \
	} while (0)

/* Precondition of a public entry point: record the message and return. */
#define CUDA_REQUIRE(cond, msg)                                                               \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			qt_cuda_fail(__FILE__, __LINE__, __func__, #cond, msg);               \
			return;                                                               \
		}                                                                             \
	} while (0)

/* After a launch. */
#define CUDA_LAUNCHED() CUDA_CHECK(cudaGetLastError())

static inline unsigned qt_blocks(size_t n, unsigned threads, unsigned cap = 65535u * 16u)
{
	size_t b = (n + threads - 1) / threads;
	if (b == 0)
		b = 1;
	return b > cap ? cap : (unsigned)b;
}

/* Twin of neftune_uniform (kernels/cpu/embedding.c): uniform in [-1, 1) for counter i under
 * seed, from the splitmix64 finaliser; integer-exact, so bit-identical on both backends. */
static __device__ __forceinline__ float qt_counter_uniform(uint64_t seed, uint64_t i)
{
	uint64_t z = seed ^ (i * 0x9E3779B97F4A7C15ull);
	z += 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return __fmul_rn((float)(int32_t)((z >> 40) - (1u << 23)), 1.0f / (1u << 23));
}

static __device__ __forceinline__ float warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

static __device__ __forceinline__ double warp_sum_d(double v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

static __device__ __forceinline__ float warp_max(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

/* Block-wide sum in double (blockDim.x a multiple of 32, <= 1024); every thread gets it.
 * Deterministic: fixed reduction tree. */
static __device__ __forceinline__ double block_sum_d(double v, double *sh /* [32] */)
{
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum_d(v);
	__syncthreads();
	if (lane == 0)
		sh[w] = v;
	__syncthreads();
	v = lane < nw ? sh[lane] : 0.0;
	return warp_sum_d(v);
}

static __device__ __forceinline__ float block_max(float v, float *sh /* [32] */)
{
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_max(v);
	__syncthreads();
	if (lane == 0)
		sh[w] = v;
	__syncthreads();
	v = lane < nw ? sh[lane] : -INFINITY;
	return warp_max(v);
}

#endif
