/* qlora-tools: ISC license. */
/* geglu: against F.gelu(gate, approximate="tanh") * up and its autograd (tests/ref/geglu_golden.py);
 * finite differences. ATen's vectorized tanh and libm's tanhf differ by a few ulp, so the
 * tolerances are 1e-5 relative (1e-6 absolute; 1e-5 for dgate, whose terms cancel near
 * gelu's minimum), not swiglu's 1e-6. */
#include "kernels/geglu.h"

#include "kcheck.h"

struct fd_ctx { float *g, *u, *y, *r; size_t n; };

static double fd_loss(void *p)
{
	struct fd_ctx *c = p;
	geglu_forward(c->y, c->g, c->u, c->n);
	return kc_dot(c->y, c->r, c->n);
}

int main(void)
{
	struct kc_gold g;
	if (kc_gold_load(&g, "geglu") == 0) {
		for (int i = 0; i < 2; i++) {
			size_t n;
			const struct kc_tensor *gt = kc_t(&g, "g%d", i);
			n = gt->n;
			float *y = malloc(n * 4), *dg = calloc(n, 4), *du = calloc(n, 4);
			char w[64];
			geglu_forward(y, gt->data, kc_f(&g, "u%d", i), n);
			snprintf(w, sizeof w, "geglu fwd n=%zu", n);
			kc_close(w, y, kc_f(&g, "out%d", i), n, 1e-5, 1e-6);
			geglu_backward(dg, du, kc_f(&g, "dout%d", i), gt->data, kc_f(&g, "u%d", i), n);
			snprintf(w, sizeof w, "geglu bwd dgate n=%zu", n);
			kc_close(w, dg, kc_f(&g, "dg%d", i), n, 1e-5, 1e-5);
			snprintf(w, sizeof w, "geglu bwd dup n=%zu", n);
			kc_close(w, du, kc_f(&g, "du%d", i), n, 1e-5, 1e-6);
			free(y), free(dg), free(du);
		}
		free(g.buf);
	}
	enum { N = 13 };
	float gt[N], u[N], y[N], r[N], dg[N] = { 0 }, du[N] = { 0 };
	kc_rand(gt, N, 1, 4.0f), kc_rand(u, N, 2, 1.0f), kc_rand(r, N, 3, 1.0f);
	geglu_backward(dg, du, r, gt, u, N);
	struct fd_ctx c = { gt, u, y, r, N };
	kc_fd("geglu dgate N=13", fd_loss, &c, gt, dg, N, 1e-2f, 1e-3);
	kc_fd("geglu dup N=13", fd_loss, &c, u, du, N, 1e-2f, 1e-3);
	/* in place: out aliases gate */
	float a[N], b[N];
	geglu_forward(a, gt, u, N);
	memcpy(b, gt, sizeof b);
	geglu_forward(b, b, u, N);
	CHECK(memcmp(a, b, sizeof a) == 0, "in-place forward differs");
	return test_main_end();
}
