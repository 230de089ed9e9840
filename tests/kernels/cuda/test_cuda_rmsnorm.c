/* qlora-tools: ISC license. */
/* CUDA vs CPU: RMSNorm forward (out, rstd) and backward (dx accumulated), awkward shapes. */
#include "kernels/rmsnorm.h"

#include "cuda_check.h"

int main(void)
{
	int shapes[][2] = { { 1, 1 }, { 3, 17 }, { 257, 576 }, { 64, 2048 }, { 5, 4099 } };
	for (int s = 0; s < 5; s++) {
		int T = shapes[s][0], C = shapes[s][1];
		size_t n = (size_t)T * C;
		float *x = malloc(n * 4), *w = malloc(C * 4), *dy = malloc(n * 4);
		float *y = malloc(n * 4), *rs = malloc(T * 4), *dx = malloc(n * 4), *g = malloc(n * 4);
		kc_rand(x, n, 1 + s, 3.0f);
		kc_rand(w, C, 2 + s, 1.0f);
		kc_rand(dy, n, 3 + s, 1.0f);
		kc_rand(dx, n, 4 + s, 0.5f);
		float *dx0 = malloc(n * 4);
		memcpy(dx0, dx, n * 4);
		rmsnorm_forward(y, rs, x, w, T, C, 1e-5f);
		rmsnorm_backward(dx, dy, x, w, rs, T, C);
		char what[64];
		snprintf(what, sizeof what, "rmsnorm fwd T=%d C=%d", T, C);
		if (cc_have_gpu(what)) {
			float *dX = cc_devf(x, n), *dW = cc_devf(w, C), *dY = cc_devf(NULL, n);
			float *dR = cc_devf(NULL, T), *dDY = cc_devf(dy, n), *dDX = cc_devf(dx0, n);
			rmsnorm_forward_cuda(dY, dR, dX, dW, T, C, 1e-5f);
			rmsnorm_backward_cuda(dDX, dDY, dX, dW, dR, T, C);
			cc_ok(what);
			cc_get(what, g, dY, n * 4);
			cc_close(what, g, y, n, 1e-6, 1e-6, 1e-12);
			cc_get("rmsnorm rstd", g, dR, T * 4);
			cc_close("rmsnorm rstd", g, rs, T, 1e-6, 0, 1e-12);
			cc_get("rmsnorm bwd", g, dDX, n * 4);
			cc_close("rmsnorm bwd", g, dx, n, 1e-5, 1e-6, 1e-10);
			cuda_free(dX), cuda_free(dW), cuda_free(dY), cuda_free(dR), cuda_free(dDY),
				cuda_free(dDX);
		}
		free(x), free(w), free(dy), free(y), free(rs), free(dx), free(g), free(dx0);
	}
	return test_main_end();
}
