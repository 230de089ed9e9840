/* qlora-tools: ISC license. */
/* linear: against F.linear and its autograd (dx, dW, dbias), reference and SGEMM paths;
 * alpha/beta; finite differences for dx and dW. */
#include "kernels/matmul.h"

#include "kcheck.h"

struct fd_ctx { float *x, *W, *b, *y, *r; int T, C, OC; };

static double fd_loss(void *p)
{
	struct fd_ctx *c = p;
	linear_forward(c->y, c->x, c->W, c->b, c->T, c->C, c->OC, 1.5f, 0.0f);
	return kc_dot(c->y, c->r, (size_t)c->T * c->OC);
}

int main(void)
{
	struct kc_gold g;
	if (kc_gold_load(&g, "matmul") == 0) {
		for (int i = 0; i < 3; i++)
			for (int fast = 0; fast < 2; fast++) {
				const struct kc_tensor *xt = kc_t(&g, "x%d", i), *wt = kc_t(&g, "W%d", i);
				int T = (int)xt->dims[0], C = (int)xt->dims[1], OC = (int)wt->dims[0];
				const float *x = xt->data, *W = wt->data, *b = kc_f(&g, "b%d", i);
				const float *dy = kc_f(&g, "dy%d", i), *yg = kc_f(&g, "y%d", i);
				float *y = malloc((size_t)T * OC * 4), *dx = calloc((size_t)T * C, 4);
				float *dW = calloc((size_t)OC * C, 4), *db = calloc(OC, 4);
				const char *nm = fast ? "linear sgemm" : "linear ref";
				char w[80];
				(fast ? linear_forward_fast : linear_forward)(y, x, W, b, T, C, OC, 1, 0);
				snprintf(w, sizeof w, "%s fwd T%d C%d OC%d", nm, T, C, OC);
				kc_close(w, y, yg, (size_t)T * OC, 1e-5, 1e-5);
				(fast ? linear_backward_x_fast : linear_backward_x)(dx, dy, W, T, C, OC, 1);
				snprintf(w, sizeof w, "%s dx", nm);
				kc_close(w, dx, kc_f(&g, "dx%d", i), (size_t)T * C, 1e-5, 1e-5);
				(fast ? linear_backward_w_fast : linear_backward_w)(dW, db, dy, x, T, C, OC, 1);
				snprintf(w, sizeof w, "%s dW", nm);
				kc_close(w, dW, kc_f(&g, "dW%d", i), (size_t)OC * C, 1e-5, 1e-5);
				snprintf(w, sizeof w, "%s dbias", nm);
				kc_close(w, db, kc_f(&g, "db%d", i), OC, 1e-5, 1e-5);
				/* alpha/beta: y = 0.5 * y + 2 * (x W^T) + b, and gradients accumulate */
				float *want = malloc((size_t)T * OC * 4);
				for (int j = 0; j < T * OC; j++)
					want[j] = 0.5f * yg[j] + 2 * (yg[j] - b[j % OC]) + b[j % OC];
				memcpy(y, yg, (size_t)T * OC * 4);
				(fast ? linear_forward_fast : linear_forward)(y, x, W, b, T, C, OC, 2, 0.5f);
				snprintf(w, sizeof w, "%s alpha=2 beta=0.5", nm);
				kc_close(w, y, want, (size_t)T * OC, 1e-5, 1e-5);
				(fast ? linear_backward_x_fast : linear_backward_x)(dx, dy, W, T, C, OC, -1);
				float mx = 0;
				for (int j = 0; j < T * C; j++)
					mx = fabsf(dx[j]) > mx ? fabsf(dx[j]) : mx;
				CHECK(mx < 1e-5, "%s: dx did not accumulate (%g)", nm, mx);
				free(y), free(dx), free(dW), free(db), free(want);
			}
		free(g.buf);
	}
	/* finite differences, odd shapes, with bias and alpha */
	enum { T = 3, C = 5, OC = 4 };
	float x[T * C], W[OC * C], b[OC], y[T * OC], r[T * OC];
	float dx[T * C] = { 0 }, dW[OC * C] = { 0 }, db[OC] = { 0 };
	kc_rand(x, T * C, 1, 1), kc_rand(W, OC * C, 2, 1), kc_rand(b, OC, 3, 1);
	kc_rand(r, T * OC, 4, 1);
	linear_backward_x(dx, r, W, T, C, OC, 1.5f);
	linear_backward_w(dW, db, r, x, T, C, OC, 1.5f);
	struct fd_ctx c = { x, W, b, y, r, T, C, OC };
	kc_fd("linear dx T3 C5 OC4", fd_loss, &c, x, dx, T * C, 1e-2f, 1e-3);
	kc_fd("linear dW", fd_loss, &c, W, dW, OC * C, 1e-2f, 1e-3);
	kc_fd("linear dbias", fd_loss, &c, b, db, OC, 1e-2f, 1e-3);
	/* sgemm vs loops at a LoRA-like shape (R = 7) */
	{
		int t = 70, ci = 129, oc = 7;
		float *xx = malloc(t * ci * 4), *ww = malloc(oc * ci * 4), *y1 = malloc(t * oc * 4);
		float *y2 = malloc(t * oc * 4), *g1 = calloc(oc * ci, 4), *g2 = calloc(oc * ci, 4);
		kc_rand(xx, t * ci, 5, 1), kc_rand(ww, oc * ci, 6, 1);
		linear_forward(y1, xx, ww, NULL, t, ci, oc, 1, 0);
		linear_forward_fast(y2, xx, ww, NULL, t, ci, oc, 1, 0);
		kc_close("linear sgemm vs ref R=7", y2, y1, t * oc, 1e-5, 1e-5);
		linear_backward_w(g1, NULL, y1, xx, t, ci, oc, 0.25f);
		linear_backward_w_fast(g2, NULL, y1, xx, t, ci, oc, 0.25f);
		kc_close("linear sgemm vs ref dW R=7", g2, g1, oc * ci, 1e-5, 1e-5);
		free(xx), free(ww), free(y1), free(y2), free(g1), free(g2);
	}
	return test_main_end();
}
