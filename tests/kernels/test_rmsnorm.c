/* qlora-tools: ISC license. */
/* rmsnorm: against HF LlamaRMSNorm (forward, autograd dx), finite differences, fast == ref. */
#include "kernels/rmsnorm.h"

#include "kcheck.h"

struct fd_ctx { float *x, *w, *r, *y; int T, C; };

static double fd_loss(void *p)
{
	struct fd_ctx *c = p;
	rmsnorm_forward(c->y, NULL, c->x, c->w, c->T, c->C, 1e-5f);
	return kc_dot(c->y, c->r, (size_t)c->T * c->C);
}

int main(void)
{
	struct kc_gold g;
	if (kc_gold_load(&g, "rmsnorm") == 0) {
		for (int i = 0; i < 3; i++) {
			const struct kc_tensor *xt = kc_t(&g, "x%d", i);
			int T = (int)xt->dims[0], C = (int)xt->dims[1];
			size_t n = (size_t)T * C;
			float *y = malloc(n * 4), *dx = calloc(n, 4), *rstd = malloc(T * 4);
			char what[64];
			rmsnorm_forward(y, rstd, xt->data, kc_f(&g, "w%d", i), T, C, 1e-5f);
			snprintf(what, sizeof what, "rmsnorm fwd T=%d C=%d", T, C);
			kc_close(what, y, kc_f(&g, "y%d", i), n, 1e-5, 1e-6);
			rmsnorm_backward(dx, kc_f(&g, "dy%d", i), xt->data, kc_f(&g, "w%d", i), rstd, T, C);
			snprintf(what, sizeof what, "rmsnorm bwd dx T=%d C=%d", T, C);
			kc_close(what, dx, kc_f(&g, "dx%d", i), n, 1e-4, 1e-5);
			free(y), free(dx), free(rstd);
		}
	}
	/* finite differences on tiny shapes, odd C */
	int shapes[][2] = { { 1, 1 }, { 3, 5 }, { 2, 17 } };
	for (int s = 0; s < 3; s++) {
		int T = shapes[s][0], C = shapes[s][1];
		size_t n = (size_t)T * C;
		float *x = malloc(n * 4), *w = malloc(C * 4), *r = malloc(n * 4), *y = malloc(n * 4);
		float *dx = calloc(n, 4), *rstd = malloc(T * 4);
		kc_rand(x, n, 10 + s, 2.0f);
		kc_rand(w, C, 20 + s, 1.5f);
		kc_rand(r, n, 30 + s, 1.0f);
		rmsnorm_forward(y, rstd, x, w, T, C, 1e-5f);
		rmsnorm_backward(dx, r, x, w, rstd, T, C);
		struct fd_ctx c = { x, w, r, y, T, C };
		char what[64];
		snprintf(what, sizeof what, "rmsnorm dx T=%d C=%d", T, C);
		kc_fd(what, fd_loss, &c, x, dx, n, 1e-2f, 2e-3);
		free(x), free(w), free(r), free(y), free(dx), free(rstd);
	}
	/* fast == reference, bit for bit (same per-row code) */
	{
		int T = 300, C = 577;
		size_t n = (size_t)T * C;
		float *x = malloc(n * 4), *w = malloc(C * 4), *a = malloc(n * 4), *b = malloc(n * 4);
		float *ra = malloc(T * 4), *rb = malloc(T * 4);
		kc_rand(x, n, 5, 3.0f);
		kc_rand(w, C, 6, 1.0f);
		rmsnorm_forward(a, ra, x, w, T, C, 1e-6f);
		rmsnorm_forward_fast(b, rb, x, w, T, C, 1e-6f, 3);
		CHECK(memcmp(a, b, n * 4) == 0 && memcmp(ra, rb, T * 4) == 0, "fast differs");
		free(x), free(w), free(a), free(b), free(ra), free(rb);
	}
	free(g.buf);
	return test_main_end();
}
