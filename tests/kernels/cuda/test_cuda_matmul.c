/* qlora-tools: ISC license. */
/* CUDA (cuBLAS SGEMM) vs the CPU loops: linear forward with bias, alpha and beta (beta = 0 on
 * a NaN-poisoned output must ignore it), backward to x and to W + bias, accumulating. */
#include "kernels/matmul.h"

#include "cuda_check.h"

int main(void)
{
	int shapes[][3] = { { 1, 1, 1 }, { 7, 33, 17 }, { 129, 576, 16 }, { 300, 16, 1537 } };
	for (int s = 0; s < 4; s++) {
		int T = shapes[s][0], C = shapes[s][1], OC = shapes[s][2];
		size_t nx = (size_t)T * C, nw = (size_t)OC * C, no = (size_t)T * OC;
		float *x = malloc(nx * 4), *W = malloc(nw * 4), *b = malloc(OC * 4), *o0 = malloc(no * 4);
		float *o1 = malloc(no * 4), *o2 = malloc(no * 4), *dy = malloc(no * 4);
		float *dx = malloc(nx * 4), *dW = malloc(nw * 4), *db = malloc(OC * 4);
		float *dx0 = malloc(nx * 4), *dW0 = malloc(nw * 4), *db0 = malloc(OC * 4);
		size_t mx = nx > nw ? nx : nw;
		float *g = malloc((mx > no ? mx : no) * 4);
		kc_rand(x, nx, 1 + s, 1.0f);
		kc_rand(W, nw, 2 + s, 0.1f);
		kc_rand(b, OC, 3 + s, 1.0f);
		kc_rand(o0, no, 4 + s, 1.0f);
		kc_rand(dy, no, 5 + s, 1.0f);
		kc_rand(dx0, nx, 6 + s, 1.0f);
		kc_rand(dW0, nw, 7 + s, 1.0f);
		kc_rand(db0, OC, 8 + s, 1.0f);
		memcpy(dx, dx0, nx * 4), memcpy(dW, dW0, nw * 4), memcpy(db, db0, OC * 4);
		linear_forward(o1, x, W, b, T, C, OC, 1.0f, 0.0f);
		memcpy(o2, o0, no * 4);
		linear_forward(o2, x, W, NULL, T, C, OC, 0.5f, 1.0f); /* the LoRA-add form */
		linear_backward_x(dx, dy, W, T, C, OC, 0.25f);
		linear_backward_w(dW, db, dy, x, T, C, OC, 0.25f);
		double tk = 1e-5 * sqrt((double)(C > T ? C : T));
		char what[64];
		snprintf(what, sizeof what, "linear T=%d C=%d OC=%d", T, C, OC);
		if (cc_have_gpu(what)) {
			float *dX = cc_devf(x, nx), *dWt = cc_devf(W, nw), *dB = cc_devf(b, OC);
			float *dO1 = cc_devf(NULL, no), *dO2 = cc_devf(o0, no), *dDY = cc_devf(dy, no);
			float *dDX = cc_devf(dx0, nx), *dDW = cc_devf(dW0, nw), *dDB = cc_devf(db0, OC);
			linear_forward_cuda(dO1, dX, dWt, dB, T, C, OC, 1.0f, 0.0f);
			linear_forward_cuda(dO2, dX, dWt, NULL, T, C, OC, 0.5f, 1.0f);
			linear_backward_x_cuda(dDX, dDY, dWt, T, C, OC, 0.25f);
			linear_backward_w_cuda(dDW, dDB, dDY, dX, T, C, OC, 0.25f);
			cc_ok(what);
			cc_get(what, g, dO1, no * 4);
			cc_close("linear fwd beta=0 +bias", g, o1, no, 1e-4, tk, 1e-10);
			cc_get(what, g, dO2, no * 4);
			cc_close("linear fwd beta=1", g, o2, no, 1e-4, tk, 1e-10);
			cc_get(what, g, dDX, nx * 4);
			cc_close("linear bwd x", g, dx, nx, 1e-4, tk, 1e-10);
			cc_get(what, g, dDW, nw * 4);
			cc_close("linear bwd w", g, dW, nw, 1e-4, tk, 1e-10);
			cc_get(what, g, dDB, OC * 4);
			cc_close("linear bwd bias", g, db, OC, 1e-4, tk, 1e-10);
			cuda_free(dX), cuda_free(dWt), cuda_free(dB), cuda_free(dO1), cuda_free(dO2);
			cuda_free(dDY), cuda_free(dDX), cuda_free(dDW), cuda_free(dDB);
		}
		free(x), free(W), free(b), free(o0), free(o1), free(o2), free(dy), free(dx), free(dW);
		free(db), free(dx0), free(dW0), free(db0), free(g);
	}
	return test_main_end();
}
