/* qlora-tools: ISC license. */
/* Linear layer: plain-loop reference and OpenBLAS SGEMM, forward and both backwards. */
#include "kernels/matmul.h"

#include "kernels/gemm.h"


/* out: (T, OC); x: (T, C); W: (OC, C); bias: (OC) or NULL */
void linear_forward(float *out, const float *x, const float *W, const float *bias, int T, int C,
                    int OC, float alpha, float beta)
{
	for (int t = 0; t < T; t++)
		for (int o = 0; o < OC; o++) {
			const float *xr = x + (size_t)t * C, *wr = W + (size_t)o * C;
			float s = 0;
			for (int i = 0; i < C; i++)
				s += xr[i] * wr[i];
			float *y = out + (size_t)t * OC + o;
			*y = (beta == 0 ? 0 : beta * *y) + alpha * s + (bias ? bias[o] : 0);
		}
}

void linear_forward_fast(float *out, const float *x, const float *W, const float *bias, int T,
                         int C, int OC, float alpha, float beta)
{
	/* beta 0: SGEMM writes out without reading it (OpenBLAS zeroes it in its own pass,
	 * sgemm_beta, ~2% of a training step; zeroing it here too wrote it twice); only an empty
	 * product (C = 0) leaves it to us */
	if (beta == 0 && C <= 0)
		for (size_t i = 0; i < (size_t)T * OC; i++)
			out[i] = 0;
	sgemm_rm(0, 1, T, OC, C, alpha, x, C, W, C, beta, out, OC);
	if (bias)
		for (int t = 0; t < T; t++)
			for (int o = 0; o < OC; o++)
				out[(size_t)t * OC + o] += bias[o];
}

void bias_forward(float *out, const float *bias, int T, int OC)
{
	for (int t = 0; t < T; t++)
		for (int o = 0; o < OC; o++)
			out[(size_t)t * OC + o] += bias[o];
}

/* dx: (T, C) +=; dout: (T, OC); W: (OC, C) */
void linear_backward_x(float *dx, const float *dout, const float *W, int T, int C, int OC,
                       float alpha)
{
	for (int t = 0; t < T; t++)
		for (int i = 0; i < C; i++) {
			float s = 0;
			for (int o = 0; o < OC; o++)
				s += dout[(size_t)t * OC + o] * W[(size_t)o * C + i];
			dx[(size_t)t * C + i] += alpha * s;
		}
}

void linear_backward_x_fast(float *dx, const float *dout, const float *W, int T, int C, int OC,
                            float alpha)
{
	sgemm_rm(0, 0, T, C, OC, alpha, dout, OC, W, C, 1.0f, dx, C);
}

/* dW: (OC, C) +=; dbias: (OC) += or NULL; dout: (T, OC); x: (T, C) */
void linear_backward_w(float *dW, float *dbias, const float *dout, const float *x, int T, int C,
                       int OC, float alpha)
{
	for (int o = 0; o < OC; o++) {
		for (int i = 0; i < C; i++) {
			float s = 0;
			for (int t = 0; t < T; t++)
				s += dout[(size_t)t * OC + o] * x[(size_t)t * C + i];
			dW[(size_t)o * C + i] += alpha * s;
		}
		if (dbias) {
			float s = 0;
			for (int t = 0; t < T; t++)
				s += dout[(size_t)t * OC + o];
			dbias[o] += s;
		}
	}
}

void linear_backward_w_fast(float *dW, float *dbias, const float *dout, const float *x, int T,
                            int C, int OC, float alpha)
{
	sgemm_rm(1, 0, OC, C, T, alpha, dout, OC, x, C, 1.0f, dW, C);
	if (dbias)
		for (int o = 0; o < OC; o++) {
			float s = 0;
			for (int t = 0; t < T; t++)
				s += dout[(size_t)t * OC + o];
			dbias[o] += s;
		}
}
