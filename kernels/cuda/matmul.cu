/* qlora-tools: ISC license. */
/*
 * CUDA twin of kernels/cpu/matmul.c through cuBLAS SGEMM (fp32, default math: no TF32), for
 * the LoRA A/B products and any fp32 weight. Row-major (T, C) buffers are column-major
 * (C, T) to cuBLAS, so out = x @ W^T is out^T = op_T(W) x^T. Bias add and bias gradient are
 * small kernels (one thread per output feature for dbias: deterministic).
 * Not yet run on a GPU (kernels/cuda/README).
 */
#include "kernels/cuda/common.cuh"

static __global__ void bias_kernel(float *out, const float *bias, int T, int OC)
{
	size_t n = (size_t)T * OC;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		out[i] += bias[i % OC];
}

static __global__ void dbias_kernel(float *dbias, const float *dout, int T, int OC)
{
	int o = blockIdx.x * blockDim.x + threadIdx.x;
	if (o >= OC)
		return;
	float s = 0;
	for (int t = 0; t < T; t++)
		s += dout[(size_t)t * OC + o];
	dbias[o] += s;
}

/* out: (T, OC); x: (T, C); W: (OC, C); bias: (OC) or NULL */
extern "C" void linear_forward_cuda(float *out, const float *x, const float *W, const float *bias,
                                    int T, int C, int OC, float alpha, float beta)
{
	CUDA_REQUIRE(T >= 0 && C > 0 && OC > 0, "bad shape");
	if (T == 0)
		return;
	cublasHandle_t h = qt_cublas();
	CUDA_REQUIRE(h != NULL, "no cuBLAS handle");
	/* beta == 0: cuBLAS does not read out, so NaN garbage is ignored as on the CPU */
	CUBLAS_CHECK(qt_cublas_fn.sgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, OC, T, C, &alpha, W, C, x, C,
	                                &beta, out, OC));
	if (bias) {
		bias_kernel<<<qt_blocks((size_t)T * OC, 256), 256, 0, qt_cuda_stream()>>>(out, bias, T,
		                                                                          OC);
		CUDA_LAUNCHED();
	}
}

/* out: (T, OC) += bias (OC) on every row */
extern "C" void bias_forward_cuda(float *out, const float *bias, int T, int OC)
{
	CUDA_REQUIRE(T >= 0 && OC > 0, "bad shape");
	if (T == 0)
		return;
	bias_kernel<<<qt_blocks((size_t)T * OC, 256), 256, 0, qt_cuda_stream()>>>(out, bias, T, OC);
	CUDA_LAUNCHED();
}

/* dx: (T, C) +=; dout: (T, OC); W: (OC, C) */
extern "C" void linear_backward_x_cuda(float *dx, const float *dout, const float *W, int T, int C,
                                       int OC, float alpha)
{
	CUDA_REQUIRE(T >= 0 && C > 0 && OC > 0, "bad shape");
	if (T == 0)
		return;
	cublasHandle_t h = qt_cublas();
	CUDA_REQUIRE(h != NULL, "no cuBLAS handle");
	float one = 1.0f;
	CUBLAS_CHECK(qt_cublas_fn.sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, C, T, OC, &alpha, W, C, dout,
	                                OC, &one, dx, C));
}

/* dW: (OC, C) +=; dbias: (OC) += or NULL; dout: (T, OC); x: (T, C) */
extern "C" void linear_backward_w_cuda(float *dW, float *dbias, const float *dout, const float *x,
                                       int T, int C, int OC, float alpha)
{
	CUDA_REQUIRE(T >= 0 && C > 0 && OC > 0, "bad shape");
	if (T == 0)
		return;
	cublasHandle_t h = qt_cublas();
	CUDA_REQUIRE(h != NULL, "no cuBLAS handle");
	float one = 1.0f;
	CUBLAS_CHECK(qt_cublas_fn.sgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, T, &alpha, x, C, dout,
	                                OC, &one, dW, C));
	if (dbias) {
		dbias_kernel<<<(OC + 255) / 256, 256, 0, qt_cuda_stream()>>>(dbias, dout, T, OC);
		CUDA_LAUNCHED();
	}
}
