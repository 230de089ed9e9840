/* qlora-tools: ISC license. */
/* CUDA vs CPU: cross-entropy forward (losses, summed loss), fused backward written in place
 * over the logits, softmax rows, and the chunked LM head + CE (with and without dx; ignored
 * targets; T not a multiple of the chunk; with Gemma-2's final soft cap), and token accuracy
 * (lm_head_correct: the same count, but for rows whose two largest logits are closer than the
 * fp32 SGEMMs of the two sides can tell apart). */
#include "kernels/cross_entropy.h"
#include "kernels/matmul.h"

#include "cuda_check.h"

static void ce_rows(int T, int V, int s)
{
	size_t n = (size_t)T * V;
	float *lg = malloc(n * 4), *ls = malloc(T * 4), *dl = malloc(n * 4), *pr = malloc(n * 4);
	float *g = malloc(n * 4), loss = 0.25f;
	int32_t *tg = malloc(T * 4);
	kc_rand(lg, n, 1 + s, 8.0f);
	for (int t = 0; t < T; t++)
		tg[t] = t % 4 == 3 ? -100 : (t * 7919 + s) % V;
	cross_entropy_forward(ls, &loss, lg, tg, T, V, 13.0f);
	cross_entropy_backward(dl, NULL, lg, tg, T, V, 1.0f / 13);
	softmax_forward(pr, lg, T, V);
	char what[64];
	snprintf(what, sizeof what, "ce T=%d V=%d", T, V);
	if (cc_have_gpu(what)) {
		float *dlg = cc_devf(lg, n), *dls = cc_devf(NULL, T), *dloss = cc_devf(&(float){ 0.25f }, 1);
		float *dpr = cc_devf(NULL, n), *dls2 = cc_devf(NULL, T);
		int32_t *dtg = cc_dev(tg, T * 4);
		cross_entropy_forward_cuda(dls, dloss, dlg, dtg, T, V, 13.0f);
		softmax_forward_cuda(dpr, dlg, T, V);
		cross_entropy_backward_cuda(dlg, dls2, dlg, dtg, T, V, 1.0f / 13); /* in place */
		cc_ok(what);
		float gl;
		cc_get(what, g, dls, T * 4);
		cc_close("ce losses", g, ls, T, 1e-5, 1e-5, 1e-12);
		cc_get(what, g, dls2, T * 4);
		cc_close("ce losses (backward)", g, ls, T, 1e-5, 1e-5, 1e-12);
		cc_get(what, &gl, dloss, 4);
		cc_close("ce loss", &gl, &loss, 1, 1e-5, 0, 1e-10);
		cc_get(what, g, dlg, n * 4);
		cc_close("ce dlogits in place", g, dl, n, 1e-4, 1e-8, 1e-10);
		cc_get(what, g, dpr, n * 4);
		cc_close("softmax", g, pr, n, 1e-4, 1e-9, 1e-10);
		cuda_free(dlg), cuda_free(dls), cuda_free(dloss), cuda_free(dpr), cuda_free(dls2);
		cuda_free(dtg);
	}
	free(lg), free(ls), free(dl), free(pr), free(g), free(tg);
}

/* Rows whose two largest logits (x W^T, capped) differ by less than eps: their argmax may
 * differ between two SGEMMs. */
static int near_ties(const float *x, const float *W, int T, int C, int V, float cap, double eps)
{
	int n = 0;
	for (int t = 0; t < T; t++) {
		double a = -INFINITY, b = -INFINITY;
		for (int v = 0; v < V; v++) {
			double z = 0;
			for (int c = 0; c < C; c++)
				z += (double)x[(size_t)t * C + c] * W[(size_t)v * C + c];
			if (cap > 0)
				z = tanh(z / cap) * cap;
			if (z > a)
				b = a, a = z;
			else if (z > b)
				b = z;
		}
		n += a - b < eps;
	}
	return n;
}

static void lm_head(int T, int C, int V, int chunk, float cap, int s)
{
	size_t nx = (size_t)T * C, nw = (size_t)V * C;
	float *x = malloc(nx * 4), *W = malloc(nw * 4), *ls = malloc(T * 4), *dx = malloc(nx * 4);
	float *dx0 = malloc(nx * 4), *ls2 = malloc(T * 4), *g = malloc(nx * 4);
	int32_t *tg = malloc(T * 4);
	kc_rand(x, nx, 1 + s, 1.0f);
	kc_rand(W, nw, 2 + s, 0.2f);
	kc_rand(dx0, nx, 3 + s, 0.1f);
	memcpy(dx, dx0, nx * 4);
	size_t sn = lm_head_ce_scratch(chunk, C, V);
	float *scr = malloc(sn * 4);
	/* targets: ignored, the row's argmax (a hit), or another token */
	for (int t = 0; t < T; t++)
		tg[t] = t % 3 == 0 ? -1 : (t * 31 + s) % V;
	for (int t = 1; t < T; t += 3) {
		float *lg = scr;
		linear_forward(lg, x + (size_t)t * C, W, NULL, 1, C, V, 1.0f, 0.0f);
		int b = 0;
		for (int v = 1; v < V; v++)
			b = lg[v] > lg[b] ? v : b;
		tg[t] = b;
	}
	lm_head_ce(ls, dx, x, W, tg, T, C, V, 0.01f, cap, scr, chunk);
	lm_head_ce(ls2, NULL, x, W, tg, T, C, V, 0.01f, cap, scr, chunk);
	long hits = lm_head_correct(x, W, tg, T, C, V, cap, scr, chunk);
	int ties = near_ties(x, W, T, C, V, cap, 1e-4);
	CHECK(hits > 0 || T < 3, "lm_head_correct: no hit where targets are the argmax");
	char what[80];
	snprintf(what, sizeof what, "lm_head_ce T=%d C=%d V=%d cap %g", T, C, V, cap);
	if (cc_have_gpu(what)) {
		float *dX = cc_devf(x, nx), *dW = cc_devf(W, nw), *dL = cc_devf(NULL, T);
		float *dDX = cc_devf(dx0, nx), *dL2 = cc_devf(NULL, T), *dS = cc_devf(NULL, sn);
		int32_t *dT = cc_dev(tg, T * 4);
		lm_head_ce_cuda(dL, dDX, dX, dW, dT, T, C, V, 0.01f, cap, dS, chunk);
		lm_head_ce_cuda(dL2, NULL, dX, dW, dT, T, C, V, 0.01f, cap, dS, chunk);
		long ghits = lm_head_correct_cuda(dX, dW, dT, T, C, V, cap, dS, chunk);
		cc_ok(what);
		printf("%s: %ld of %d rows correct (CPU %ld, %d near ties)\n", what, ghits, T, hits,
		       ties);
		CHECK(labs(ghits - hits) <= ties, "lm_head_correct: %ld vs CPU %ld (%d near ties)",
		      ghits, hits, ties);
		cc_get(what, g, dL, T * 4);
		cc_close("lm_head_ce losses", g, ls, T, 1e-5, 1e-5, 1e-12);
		cc_get(what, g, dL2, T * 4);
		cc_close("lm_head_ce losses (no dx)", g, ls2, T, 1e-5, 1e-5, 1e-12);
		cc_get(what, g, dDX, nx * 4);
		cc_close("lm_head_ce dx", g, dx, nx, 1e-4, 1e-7, 1e-10);
		cc_guard("lm_head_ce scratch", dS, sn * 4);
		cuda_free(dX), cuda_free(dW), cuda_free(dL), cuda_free(dDX), cuda_free(dL2);
		cuda_free(dS), cuda_free(dT);
	}
	free(x), free(W), free(ls), free(dx), free(dx0), free(ls2), free(g), free(tg), free(scr);
}

int main(void)
{
	int shapes[][2] = { { 1, 1 }, { 5, 7 }, { 33, 1000 }, { 17, 49152 } };
	for (int s = 0; s < 4; s++)
		ce_rows(shapes[s][0], shapes[s][1], s);
	lm_head(1, 8, 5, 4, 0, 0);
	lm_head(70, 64, 1000, 16, 0, 1);
	lm_head(37, 96, 4099, 64, 0, 2);
	/* Gemma-2's final_logit_softcapping: 30 (the real models'; these logits stay well inside
	 * it) and 0.5 (logits of +-3 pushed into its saturation) */
	lm_head(70, 64, 1000, 16, 30.0f, 3);
	lm_head(37, 96, 4099, 64, 0.5f, 4);
	return test_main_end();
}
