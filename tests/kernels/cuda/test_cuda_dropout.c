/* qlora-tools: ISC license. */
/* CUDA vs CPU: dropout forward and backward masks bit-identical (counter-based RNG). */
#include "kernels/dropout.h"

#include "cuda_check.h"

int main(void)
{
	size_t sizes[] = { 1, 31, 100003 };
	double ps[] = { 0.0, 0.05, 0.5 };
	for (int s = 0; s < 3; s++) {
		size_t n = sizes[s];
		float p = (float)ps[s], sc = dropout_scale(ps[s]);
		float *x = malloc(n * 4), *dy = malloc(n * 4), *ref = malloc(n * 4), *got = malloc(n * 4);
		float *dx = malloc(n * 4), *dref = malloc(n * 4);
		kc_rand(x, n, 1 + s, 2.0f);
		kc_rand(dy, n, 11 + s, 1.0f);
		kc_rand(dx, n, 21 + s, 1.0f);
		memcpy(dref, dx, n * 4);
		dropout_forward(ref, x, n, p, sc, 99 + s);
		dropout_backward(dref, dy, n, p, sc, 99 + s);
		char what[64];
		snprintf(what, sizeof what, "dropout n=%zu p=%g", n, p);
		if (cc_have_gpu(what)) {
			float *dxin = cc_devf(x, n), *dout = cc_devf(NULL, n);
			float *ddy = cc_devf(dy, n), *ddx = cc_devf(dx, n);
			dropout_forward_cuda(dout, dxin, n, p, sc, 99 + s);
			dropout_backward_cuda(ddx, ddy, n, p, sc, 99 + s);
			cc_ok(what);
			cc_get(what, got, dout, n * 4);
			cc_exact(what, got, ref, n * 4);
			cc_get(what, got, ddx, n * 4);
			cc_exact("dropout backward", got, dref, n * 4);
			cuda_free(dxin), cuda_free(dout), cuda_free(ddy), cuda_free(ddx);
		}
		free(x), free(dy), free(ref), free(got), free(dx), free(dref);
	}
	return test_main_end();
}
