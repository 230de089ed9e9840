/* qlora-tools: ISC license. */
/* CUDA vs CPU: Gemma-2's soft cap tanh(x / c) * c (tanhf within ulps) and the residual add
 * (bit-identical), odd sizes. */
#include "kernels/softcap.h"

#include "cuda_check.h"

int main(void)
{
	size_t sizes[] = { 1, 1537, 49152 * 3 + 5 };
	for (int s = 0; s < 3; s++) {
		size_t n = sizes[s];
		float *x = malloc(n * 4), *y = malloc(n * 4), *r = malloc(n * 4), *got = malloc(n * 4);
		kc_rand(x, n, 1 + s, 80.0f);
		kc_rand(r, n, 5 + s, 1.0f);
		softcap_forward(y, x, n, 30.0f);
		char what[64];
		snprintf(what, sizeof what, "softcap n=%zu", n);
		if (cc_have_gpu(what)) {
			float *dx = cc_devf(x, n), *dy = cc_devf(NULL, n), *dr = cc_devf(r, n);
			softcap_forward_cuda(dy, dx, n, 30.0f);
			residual_add_cuda(dr, dx, n);
			cc_ok(what);
			cc_get(what, got, dy, n * 4);
			cc_close(what, got, y, n, 1e-6, 1e-6, 1e-13);
			residual_add(r, x, n);
			cc_get("residual_add", got, dr, n * 4);
			cc_exact("residual_add", got, r, n * 4);
			cuda_free(dx), cuda_free(dy), cuda_free(dr);
		}
		free(x), free(y), free(r), free(got);
	}
	return test_main_end();
}
