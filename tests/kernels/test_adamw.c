/* qlora-tools: ISC license. */
/* adamw: three torch.optim.AdamW steps (lr 1e-2, wd 0.1) and clip_grad_norm_ over three
 * tensors, against torch; bias-correction scalars by hand. */
#include "kernels/adamw.h"

#include "kcheck.h"

int main(void)
{
	struct kc_gold g;
	if (kc_gold_load(&g, "adamw") == 0) {
		size_t n;
		float *p0 = kc_get(&g, "p0", &n);
		float *p = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4);
		memcpy(p, p0, n * 4);
		int exact = 1;
		for (int s = 0; s < 3; s++) {
			struct adamw_hparams h;
			adamw_hparams_init(&h, 1e-2, 0.9, 0.999, 1e-8, 0.1, s + 1);
			adamw_step(p, kc_f(&g, "g%d", s), m, v, n, &h);
			char w[64];
			snprintf(w, sizeof w, "adamw p after step %d", s + 1);
			kc_close(w, p, kc_f(&g, "p%d", s + 1), n, 1e-6, 1e-7);
			exact &= memcmp(p, kc_f(&g, "p%d", s + 1), n * 4) == 0;
		}
		printf("  adamw params bit-identical to torch after 3 steps: %s\n", exact ? "yes" : "no");
		kc_close("adamw m (exp_avg)", m, kc_get(&g, "m", NULL), n, 1e-6, 1e-9);
		kc_close("adamw v (exp_avg_sq)", v, kc_get(&g, "v", NULL), n, 1e-6, 1e-12);
		/* clipping */
		double ss = 0;
		float *gr[3];
		size_t gn[3];
		for (int j = 0; j < 3; j++) {
			float *src = kc_f(&g, "cg%d", j);
			const struct kc_tensor *t = kc_t(&g, "cg%d", j);
			gn[j] = t->n;
			gr[j] = malloc(gn[j] * 4);
			memcpy(gr[j], src, gn[j] * 4);
			grad_sumsq(&ss, gr[j], gn[j]);
		}
		float total;
		float coef = grad_clip_coef(ss, 1.0, &total);
		kc_close("clip total_norm", &total, kc_get(&g, "total", NULL), 1, 1e-6, 0);
		CHECK(coef < 1, "coef %g should clip", coef);
		for (int j = 0; j < 3; j++) {
			grad_scale(gr[j], gn[j], coef);
			char w[64];
			snprintf(w, sizeof w, "clip grads tensor %d", j);
			kc_close(w, gr[j], kc_f(&g, "cc%d", j), gn[j], 1e-6, 1e-8);
			free(gr[j]);
		}
		CHECK(grad_clip_coef(0.25, 1.0, NULL) == 1.0f, "norm 0.5 must not clip");
		free(p), free(m), free(v), free(g.buf);
	}
	/* host scalars */
	struct adamw_hparams h;
	adamw_hparams_init(&h, 2e-4, 0.9, 0.999, 1e-8, 0.0, 1);
	CHECK(h.decay == 1.0f && fabsf(h.neg_step_size + 2e-3f) < 1e-9f, "t=1 step %g", h.neg_step_size);
	CHECK(fabsf(h.bc2_sqrt - sqrtf(0.001f)) < 1e-7f, "bc2_sqrt %g", h.bc2_sqrt);
	/* zero gradient, no decay: parameters unchanged */
	float p[3] = { 1, -2, 3 }, gz[3] = { 0 }, m[3] = { 0 }, v[3] = { 0 };
	adamw_step(p, gz, m, v, 3, &h);
	CHECK(p[0] == 1 && p[1] == -2 && p[2] == 3, "zero grad moved params");
	return test_main_end();
}
