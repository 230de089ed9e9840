/* qlora-tools: ISC license. */
/* CUDA vs CPU: AdamW steps bit-identical with the same host hparams; grad_sumsq (double,
 * different order: relative 1e-12) and grad_scale (bit-identical). */
#include "kernels/adamw.h"

#include "cuda_check.h"

int main(void)
{
	size_t sizes[] = { 1, 1000, 262147 };
	for (int s = 0; s < 3; s++) {
		size_t n = sizes[s];
		float *p = malloc(n * 4), *gr = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4);
		float *hp = malloc(n * 4), *hm = malloc(n * 4), *hv = malloc(n * 4);
		kc_rand(p, n, 1 + s, 1.0f);
		kc_rand(gr, n, 2 + s, 0.01f);
		char what[64];
		snprintf(what, sizeof what, "adamw n=%zu", n);
		int gpu = cc_have_gpu(what);
		float *dp = NULL, *dg = NULL, *dm = NULL, *dv = NULL;
		if (gpu)
			dp = cc_devf(p, n), dg = cc_devf(gr, n), dm = cc_devf(m, n), dv = cc_devf(v, n);
		for (long t = 1; t <= 3; t++) {
			struct adamw_hparams h;
			/* beta1 0.9 (lerp weight < 0.5) then 0.3 (the other branch) */
			adamw_hparams_init(&h, 2e-4 * t, t == 3 ? 0.3 : 0.9, 0.999, 1e-8, 0.01, t);
			adamw_step(p, gr, m, v, n, &h);
			if (gpu)
				adamw_step_cuda(dp, dg, dm, dv, n, &h);
		}
		double ss = 0;
		grad_sumsq(&ss, gr, n);
		if (gpu) {
			cc_ok(what);
			cc_get(what, hp, dp, n * 4);
			cc_exact("adamw p", hp, p, n * 4);
			cc_get(what, hm, dm, n * 4);
			cc_exact("adamw m", hm, m, n * 4);
			cc_get(what, hv, dv, n * 4);
			cc_exact("adamw v", hv, v, n * 4);
			double *dss = cc_dev(&(double){ 0.5 }, 8), gss;
			grad_sumsq_cuda(dss, dg, n);
			grad_scale_cuda(dg, n, 0.37f);
			cc_ok("grad_sumsq");
			cc_get("grad_sumsq", &gss, dss, 8);
			printf("grad_sumsq gpu %.17g cpu %.17g\n", gss - 0.5, ss);
			CHECK(fabs((gss - 0.5) - ss) <= 1e-12 * ss, "grad_sumsq %g vs %g", gss - 0.5, ss);
			grad_scale(gr, n, 0.37f);
			cc_get("grad_scale", hp, dg, n * 4);
			cc_exact("grad_scale", hp, gr, n * 4);
			cuda_free(dp), cuda_free(dg), cuda_free(dm), cuda_free(dv), cuda_free(dss);
		}
		free(p), free(gr), free(m), free(v), free(hp), free(hm), free(hv);
	}
	return test_main_end();
}
