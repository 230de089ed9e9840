/* qlora-tools: ISC license. */
/*
 * CUDA device layer: probe for kernels/device.c, the thread's sticky error, stream and cuBLAS
 * handle, memory helpers. Not tested on a GPU yet (see kernels/cuda/README).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cuda/common.cuh"

extern "C" {
#include "kernels/device.h"
}

/* Oldest architecture the build emits machine code for (Makefile: sm_80, sm_90). */
#define QT_CUDA_MIN_MAJOR 8

static thread_local char err_msg[1024];
static thread_local int err_set;
static thread_local cudaStream_t cur_stream;
static thread_local cublasHandle_t cublas_handle;

void qt_cuda_fail(const char *file, int line, const char *func, const char *what,
                  const char *msg)
{
	if (err_set)
		return;
	err_set = 1;
	snprintf(err_msg, sizeof err_msg, "%s:%d: %s: %s: %s", file, line, func, what, msg);
}

const char *qt_cublas_status_str(cublasStatus_t s)
{
	switch (s) {
	case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS not initialized";
	case CUBLAS_STATUS_ALLOC_FAILED:    return "cuBLAS allocation failed";
	case CUBLAS_STATUS_INVALID_VALUE:   return "cuBLAS invalid value";
	case CUBLAS_STATUS_ARCH_MISMATCH:   return "cuBLAS architecture mismatch";
	case CUBLAS_STATUS_EXECUTION_FAILED: return "cuBLAS execution failed";
	case CUBLAS_STATUS_NOT_SUPPORTED:   return "cuBLAS operation not supported";
	default:                            return "cuBLAS error";
	}
}

extern "C" const char *cuda_error(void) { return err_set ? err_msg : NULL; }

extern "C" void cuda_error_clear(void)
{
	err_set = 0;
	err_msg[0] = 0;
	(void)cudaGetLastError();
}

cudaStream_t qt_cuda_stream(void) { return cur_stream; }

#define QT_STR_(x) #x
#define QT_STR(x) QT_STR_(x)
/* the major version of the headers the build used: its ABI */
#define QT_CUBLAS_SONAME "libcublas.so." QT_STR(CUBLAS_VER_MAJOR)

struct qt_cublas_api qt_cublas_fn;
static char cublas_why[512];

template <typename F> static bool cublas_sym(void *lib, const char *name, F *fn)
{
	void *p = dlsym(lib, name);
	*fn = reinterpret_cast<F>(p);
	if (!p)
		snprintf(cublas_why, sizeof cublas_why, "%s: no symbol %s", QT_CUBLAS_SONAME, name);
	return p != NULL;
}

/* Opens cuBLAS (the binaries' run path has the toolkit's lib64) and fills qt_cublas_fn. */
static bool cublas_load(void)
{
	void *lib = dlopen(QT_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *e = dlerror();
		snprintf(cublas_why, sizeof cublas_why, "%s", e ? e : QT_CUBLAS_SONAME ": cannot open");
		return false;
	}
	/* the _v2 names are what cublas_v2.h's cublasCreate, cublasSetStream, cublasSgemm mean */
	return cublas_sym(lib, "cublasCreate_v2", &qt_cublas_fn.create) &&
	       cublas_sym(lib, "cublasSetStream_v2", &qt_cublas_fn.set_stream) &&
	       cublas_sym(lib, "cublasSetMathMode", &qt_cublas_fn.set_math_mode) &&
	       cublas_sym(lib, "cublasSgemm_v2", &qt_cublas_fn.sgemm) &&
	       cublas_sym(lib, "cublasGemmEx", &qt_cublas_fn.gemm_ex);
}

extern "C" int cuda_cublas_open(char *why, unsigned n)
{
	static const bool ok = cublas_load(); /* once, whichever thread asks first */
	if (!ok && why && n)
		snprintf(why, n, "%s", cublas_why);
	return ok;
}

cublasHandle_t qt_cublas(void)
{
	if (!cublas_handle) {
		char why[512];
		if (!cuda_cublas_open(why, sizeof why)) {
			qt_cuda_fail(__FILE__, __LINE__, __func__, "dlopen", why);
			return NULL;
		}
		cublasStatus_t s = qt_cublas_fn.create(&cublas_handle);
		if (s != CUBLAS_STATUS_SUCCESS) {
			cublas_handle = NULL;
			qt_cuda_fail(__FILE__, __LINE__, __func__, "cublasCreate",
			             qt_cublas_status_str(s));
			return NULL;
		}
		/* Default math: SGEMM stays fp32 (no TF32 since cuBLAS 11); bf16 GemmEx uses tensor cores. */
		qt_cublas_fn.set_math_mode(cublas_handle, CUBLAS_DEFAULT_MATH);
	}
	if (qt_cublas_fn.set_stream(cublas_handle, cur_stream) != CUBLAS_STATUS_SUCCESS)
		return NULL;
	return cublas_handle;
}

extern "C" void cuda_stream_set(void *stream) { cur_stream = (cudaStream_t)stream; }

extern "C" int cuda_probe(char *why, unsigned n)
{
	int count = 0;
	cudaError_t e = cudaGetDeviceCount(&count);
	if (e != cudaSuccess) {
		int driver = 0;
		/* the runtime reports a machine with no driver at all as an old driver */
		if (e == cudaErrorInsufficientDriver && cudaDriverGetVersion(&driver) == cudaSuccess &&
		    driver == 0)
			snprintf(why, n, "no NVIDIA driver");
		else
			snprintf(why, n, "%s", cudaGetErrorString(e));
		(void)cudaGetLastError();
		return 0;
	}
	if (count <= 0) {
		snprintf(why, n, "no device found");
		return 0;
	}
	/* the current device: 0, or the one a distributed rank selected (common/dist.h) */
	int dev = 0;
	cudaDeviceProp prop;
	if ((e = cudaGetDevice(&dev)) != cudaSuccess ||
	    (e = cudaGetDeviceProperties(&prop, dev)) != cudaSuccess ||
	    (e = cudaSetDevice(dev)) != cudaSuccess || (e = cudaFree(0)) != cudaSuccess) {
		snprintf(why, n, "device %d: %s", dev, cudaGetErrorString(e));
		(void)cudaGetLastError();
		return 0;
	}
	if (prop.major < QT_CUDA_MIN_MAJOR) {
		snprintf(why, n, "device %d (%s) has compute capability %d.%d; need %d.0 or newer",
		         dev, prop.name, prop.major, prop.minor, QT_CUDA_MIN_MAJOR);
		return 0;
	}
	if (!cuda_cublas_open(why, n))
		return 0;
	return 1;
}

extern "C" int cuda_sync(void)
{
	cudaError_t e = cudaStreamSynchronize(cur_stream);
	if (e != cudaSuccess)
		qt_cuda_fail(__FILE__, __LINE__, __func__, "cudaStreamSynchronize",
		             cudaGetErrorString(e));
	return err_set ? -1 : 0;
}

extern "C" void *cuda_malloc(size_t bytes)
{
	void *p = NULL;
	cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
	if (e != cudaSuccess) {
		qt_cuda_fail(__FILE__, __LINE__, __func__, "cudaMalloc", cudaGetErrorString(e));
		return NULL;
	}
	return p;
}

extern "C" void cuda_free(void *p)
{
	if (p)
		cudaFree(p);
}

static int copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *f)
{
	cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, cur_stream);
	if (e == cudaSuccess)
		e = cudaStreamSynchronize(cur_stream);
	if (e != cudaSuccess) {
		qt_cuda_fail(__FILE__, __LINE__, f, "cudaMemcpyAsync", cudaGetErrorString(e));
		return -1;
	}
	return 0;
}

extern "C" int cuda_upload(void *dst, const void *src, size_t bytes)
{
	return copy(dst, src, bytes, cudaMemcpyHostToDevice, __func__);
}

extern "C" int cuda_download(void *dst, const void *src, size_t bytes)
{
	return copy(dst, src, bytes, cudaMemcpyDeviceToHost, __func__);
}

extern "C" int cuda_memset(void *dst, int byte, size_t bytes)
{
	cudaError_t e = cudaMemsetAsync(dst, byte, bytes, cur_stream);
	if (e != cudaSuccess) {
		qt_cuda_fail(__FILE__, __LINE__, __func__, "cudaMemsetAsync", cudaGetErrorString(e));
		return -1;
	}
	return 0;
}

extern "C" void cuda_copy(void *dst, const void *src, size_t bytes)
{
	cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cur_stream);
	if (e != cudaSuccess)
		qt_cuda_fail(__FILE__, __LINE__, __func__, "cudaMemcpyAsync", cudaGetErrorString(e));
}
