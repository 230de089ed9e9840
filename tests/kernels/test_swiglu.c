/* qlora-tools: ISC license. */
/* swiglu: against F.silu(gate) * up and its autograd; finite differences; the fast variants
 * (kernels/cpu/vexp.h's sigmoid) against the loops on every ISA this CPU has, in place too. */
#include "kernels/swiglu.h"

#include "kcheck.h"
#include "kernels/cpu/vexp.h"

/* swiglu_*_fast against swiglu_* on n elements (gate over [-30, 30], past the exp clamp at
 * the ends), with vexp forced to isa. */
static void fast(enum vx_isa isa, size_t n)
{
	float *g = malloc(n * 4), *u = malloc(n * 4), *d = malloc(n * 4), *y0 = malloc(n * 4);
	float *y1 = malloc(n * 4), *dg0 = calloc(n, 4), *du0 = calloc(n, 4), *dg1 = calloc(n, 4);
	float *du1 = calloc(n, 4);
	kc_rand(g, n, 11, 30.0f), kc_rand(u, n, 12, 1.0f), kc_rand(d, n, 13, 1.0f);
	if (n > 2)
		g[0] = 100.0f, g[1] = -100.0f, g[2] = 0.0f;
	vx_set_isa(isa);
	swiglu_forward(y0, g, u, n);
	swiglu_forward_fast(y1, g, u, n);
	swiglu_backward(dg0, du0, d, g, u, n);
	swiglu_backward_fast(dg1, du1, d, g, u, n);
	char w[64];
	snprintf(w, sizeof w, "fast fwd isa %d n=%zu", (int)vx_get_isa(), n);
	kc_close(w, y1, y0, n, 1e-6, 1e-30);
	snprintf(w, sizeof w, "fast bwd dgate isa %d", (int)vx_get_isa());
	kc_close(w, dg1, dg0, n, 2e-6, 1e-6); /* 1 + g (1 - s) cancels near g = -1.28 */
	snprintf(w, sizeof w, "fast bwd dup isa %d", (int)vx_get_isa());
	kc_close(w, du1, du0, n, 1e-6, 1e-30);
	memcpy(y0, g, n * 4);
	swiglu_forward_fast(y0, y0, u, n);
	CHECK(memcmp(y0, y1, n * 4) == 0, "fast in-place forward differs (isa %d)", (int)isa);
	vx_set_isa(VX_AVX512);
	free(g), free(u), free(d), free(y0), free(y1), free(dg0), free(du0), free(dg1), free(du1);
}

struct fd_ctx { float *g, *u, *y, *r; size_t n; };

static double fd_loss(void *p)
{
	struct fd_ctx *c = p;
	swiglu_forward(c->y, c->g, c->u, c->n);
	return kc_dot(c->y, c->r, c->n);
}

int main(void)
{
	struct kc_gold g;
	if (kc_gold_load(&g, "swiglu") == 0) {
		for (int i = 0; i < 2; i++) {
			size_t n;
			const struct kc_tensor *gt = kc_t(&g, "g%d", i);
			n = gt->n;
			float *y = malloc(n * 4), *dg = calloc(n, 4), *du = calloc(n, 4);
			char w[64];
			swiglu_forward(y, gt->data, kc_f(&g, "u%d", i), n);
			snprintf(w, sizeof w, "swiglu fwd n=%zu", n);
			kc_close(w, y, kc_f(&g, "out%d", i), n, 1e-6, 1e-7);
			swiglu_backward(dg, du, kc_f(&g, "dout%d", i), gt->data, kc_f(&g, "u%d", i), n);
			snprintf(w, sizeof w, "swiglu bwd dgate n=%zu", n);
			kc_close(w, dg, kc_f(&g, "dg%d", i), n, 1e-5, 1e-6);
			snprintf(w, sizeof w, "swiglu bwd dup n=%zu", n);
			kc_close(w, du, kc_f(&g, "du%d", i), n, 1e-6, 1e-7);
			free(y), free(dg), free(du);
		}
		free(g.buf);
	}
	enum { N = 13 };
	float gt[N], u[N], y[N], r[N], dg[N] = { 0 }, du[N] = { 0 };
	kc_rand(gt, N, 1, 4.0f), kc_rand(u, N, 2, 1.0f), kc_rand(r, N, 3, 1.0f);
	swiglu_backward(dg, du, r, gt, u, N);
	struct fd_ctx c = { gt, u, y, r, N };
	kc_fd("swiglu dgate N=13", fd_loss, &c, gt, dg, N, 1e-2f, 1e-3);
	kc_fd("swiglu dup N=13", fd_loss, &c, u, du, N, 1e-2f, 1e-3);
	/* in place: out aliases gate */
	float a[N], b[N];
	swiglu_forward(a, gt, u, N);
	memcpy(b, gt, sizeof b);
	swiglu_forward(b, b, u, N);
	CHECK(memcmp(a, b, sizeof a) == 0, "in-place forward differs");
	enum vx_isa isas[] = { VX_SCALAR, VX_AVX2, VX_AVX512 };
	for (int i = 0; i < 3; i++) {
		fast(isas[i], 100003);
		fast(isas[i], 7);
	}
	return test_main_end();
}
