/* qlora-tools: ISC license. */
/* CUDA vs CPU: GeGLU (tanh gelu) forward and backward (accumulating), odd sizes. */
#include "kernels/geglu.h"

#include "cuda_check.h"

int main(void)
{
	size_t sizes[] = { 1, 1537, 3 * 1536 * 7 + 5 };
	for (int s = 0; s < 3; s++) {
		size_t n = sizes[s];
		float *gt = malloc(n * 4), *up = malloc(n * 4), *dy = malloc(n * 4), *y = malloc(n * 4);
		float *dg = malloc(n * 4), *du = malloc(n * 4), *dg0 = malloc(n * 4), *g = malloc(n * 4);
		kc_rand(gt, n, 1 + s, 6.0f);
		kc_rand(up, n, 2 + s, 2.0f);
		kc_rand(dy, n, 3 + s, 1.0f);
		kc_rand(dg0, n, 4 + s, 0.5f);
		memcpy(dg, dg0, n * 4);
		memcpy(du, dg0, n * 4);
		geglu_forward(y, gt, up, n);
		geglu_backward(dg, du, dy, gt, up, n);
		char what[64];
		snprintf(what, sizeof what, "geglu n=%zu", n);
		if (cc_have_gpu(what)) {
			float *dG = cc_devf(gt, n), *dU = cc_devf(up, n), *dY = cc_devf(NULL, n);
			float *dDY = cc_devf(dy, n), *dDG = cc_devf(dg0, n), *dDU = cc_devf(dg0, n);
			geglu_forward_cuda(dY, dG, dU, n);
			geglu_backward_cuda(dDG, dDU, dDY, dG, dU, n);
			cc_ok(what);
			cc_get(what, g, dY, n * 4);
			cc_close(what, g, y, n, 1e-5, 1e-6, 1e-11);
			cc_get("geglu dgate", g, dDG, n * 4);
			cc_close("geglu dgate", g, dg, n, 1e-5, 1e-6, 1e-11);
			cc_get("geglu dup", g, dDU, n * 4);
			cc_close("geglu dup", g, du, n, 1e-5, 1e-6, 1e-11);
			cuda_free(dG), cuda_free(dU), cuda_free(dY), cuda_free(dDY), cuda_free(dDG),
				cuda_free(dDU);
		}
		free(gt), free(up), free(dy), free(y), free(dg), free(du), free(dg0), free(g);
	}
	return test_main_end();
}
