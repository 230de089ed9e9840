/* qlora-tools: ISC license. */
/* CUDA vs CPU: Gemma-2's soft cap tanh(x / c) * c (tanhf within ulps), its backward
 * dy (1 - (y / c)^2) (bit-identical: a division and rounded products, no FMA), in place too
 * (the prefix projection's tanh), and the residual add (bit-identical), odd sizes. */
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
			/* backward from the CPU's y, into a fresh buffer and in place over dy */
			float *dd = malloc(n * 4), *dg = cc_devf(r, n), *dDX = cc_devf(NULL, n);
			cuda_upload(dy, y, n * 4);
			softcap_backward(dd, r, y, n, 30.0f);
			softcap_backward_cuda(dDX, dg, dy, n, 30.0f);
			softcap_backward_cuda(dg, dg, dy, n, 30.0f);
			cc_ok("softcap_backward");
			cc_get("softcap_backward", got, dDX, n * 4);
			cc_exact("softcap_backward", got, dd, n * 4);
			cc_get("softcap_backward in place", got, dg, n * 4);
			cc_exact("softcap_backward in place", got, dd, n * 4);
			free(dd);
			cuda_free(dx), cuda_free(dy), cuda_free(dr), cuda_free(dg), cuda_free(dDX);
		}
		free(x), free(y), free(r), free(got);
	}
	return test_main_end();
}
