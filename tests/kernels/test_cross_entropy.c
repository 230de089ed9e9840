/* qlora-tools: ISC license. */
/* cross_entropy / softmax: against F.cross_entropy (ignore_index -100, sum / explicit
 * normaliser) and its autograd, torch.softmax; finite differences; chunked LM head + CE
 * against the unchunked composition. */
#include "kernels/cross_entropy.h"
#include "kernels/matmul.h"

#include <math.h>

#include "common/half.h"
#include "kcheck.h"

struct fd_ctx { float *logits, *losses; const int32_t *tg; int T, V; float norm; };

static double fd_loss(void *p)
{
	struct fd_ctx *c = p;
	float loss = 0;
	cross_entropy_forward(c->losses, &loss, c->logits, c->tg, c->T, c->V, c->norm);
	double s = 0;
	for (int t = 0; t < c->T; t++)
		s += c->losses[t];
	return s / c->norm;
}

struct fd_lm { float *x, *W, *losses, *scratch; const int32_t *tg; int T, C, V; float cap; };

static double fd_lm_loss(void *p)
{
	struct fd_lm *c = p;
	lm_head_ce(c->losses, NULL, c->x, c->W, c->tg, c->T, c->C, c->V, 1, c->cap, c->scratch, 2);
	double s = 0;
	for (int t = 0; t < c->T; t++)
		s += c->losses[t];
	return s;
}

int main(void)
{
	struct kc_gold g;
	if (kc_gold_load(&g, "cross_entropy") == 0) {
		for (int i = 0; i < 3; i++) {
			const struct kc_tensor *lt = kc_t(&g, "logits%d", i);
			int T = (int)lt->dims[0], V = (int)lt->dims[1];
			const int32_t *tg = (const int32_t *)kc_f(&g, "tgt%d", i);
			float norm = kc_f(&g, "norm%d", i)[0], loss = 0;
			float *losses = malloc(T * 4), *d = malloc((size_t)T * V * 4);
			char w[64];
			cross_entropy_forward(losses, &loss, lt->data, tg, T, V, norm);
			snprintf(w, sizeof w, "ce losses T%d V%d", T, V);
			kc_close(w, losses, kc_f(&g, "losses%d", i), T, 1e-6, 1e-6);
			snprintf(w, sizeof w, "ce loss / N=%g", norm);
			kc_close(w, &loss, kc_f(&g, "loss%d", i), 1, 1e-6, 1e-7);
			memcpy(d, lt->data, (size_t)T * V * 4);
			cross_entropy_backward(d, losses, d, tg, T, V, 1.0f / norm); /* in place */
			snprintf(w, sizeof w, "ce dlogits (in place) T%d V%d", T, V);
			kc_close(w, d, kc_f(&g, "dlogits%d", i), (size_t)T * V, 1e-5, 1e-8);
			snprintf(w, sizeof w, "ce fused losses T%d", T);
			kc_close(w, losses, kc_f(&g, "losses%d", i), T, 1e-6, 1e-6);
			free(losses), free(d);
		}
		free(g.buf);
	}
	if (kc_gold_load(&g, "softmax") == 0) {
		const struct kc_tensor *xt = kc_t(&g, "x", 0);
		float *p = malloc(xt->n * 4);
		softmax_forward(p, xt->data, (int)xt->dims[0], (int)xt->dims[1]);
		kc_close("softmax 3x50", p, kc_f(&g, "y", 0), xt->n, 1e-6, 1e-9);
		free(p);
		free(g.buf);
	}
	/* finite differences of the fused backward */
	{
		enum { T = 4, V = 7 };
		int32_t tg[T] = { 3, -100, 0, 6 };
		float x[T * V], d[T * V], losses[T];
		kc_rand(x, T * V, 1, 3);
		cross_entropy_backward(d, NULL, x, tg, T, V, 1.0f / 5);
		struct fd_ctx c = { x, losses, tg, T, V, 5 };
		kc_fd("ce dlogits T4 V7 N=5", fd_loss, &c, x, d, T * V, 1e-2f, 1e-3);
	}
	/* chunked LM head + CE == unchunked composition; fd on x */
	{
		enum { T = 37, C = 24, V = 301, K = 5 };
		float *x = malloc(T * C * 4), *W = malloc(V * C * 4), *lg = malloc(T * V * 4);
		float *l1 = malloc(T * 4), *l2 = malloc(T * 4), *dx1 = calloc(T * C, 4);
		float *dx2 = calloc(T * C, 4), *scr = malloc(lm_head_ce_scratch(K, C, V) * 4);
		int32_t tg[T];
		kc_rand(x, T * C, 2, 2), kc_rand(W, V * C, 3, 1);
		for (int t = 0; t < T; t++)
			tg[t] = t % 3 == 1 ? -100 : (t * 37) % V;
		linear_forward(lg, x, W, NULL, T, C, V, 1, 0);
		cross_entropy_backward(lg, l1, lg, tg, T, V, 0.125f);
		linear_backward_x(dx1, lg, W, T, C, V, 1);
		lm_head_ce(l2, dx2, x, W, tg, T, C, V, 0.125f, 0, scr, K);
		kc_close("lm_head_ce losses chunk=5", l2, l1, T, 1e-5, 1e-6);
		kc_close("lm_head_ce dx chunk=5", dx2, dx1, T * C, 1e-5, 1e-7);
		lm_head_ce(l2, NULL, x, W, tg, T, C, V, 0.125f, 0, scr, K);
		kc_close("lm_head_ce losses fwd only", l2, l1, T, 1e-5, 1e-6);
		int32_t tg4[4] = { 2, -100, 5, 0 };
		float d4[4 * C] = { 0 };
		lm_head_ce(l2, d4, x, W, tg4, 4, C, 7, 1, 0, scr, 2);
		struct fd_lm c = { x, W, l2, scr, tg4, 4, C, 7, 0 };
		kc_fd("lm_head_ce dx T4 C24 V7", fd_lm_loss, &c, x, d4, 4 * C, 1e-2f, 1e-3);
		/* Gemma-2's final soft cap: logits here reach about 10, so a cap of 4 bends them */
		float d5[4 * C] = { 0 };
		lm_head_ce(l2, d5, x, W, tg4, 4, C, 7, 1, 4.0f, scr, 2);
		/* the capped losses are CE over tanh(z / 4) * 4 */
		float z[4 * 7], lz[4];
		linear_forward(z, x, W, NULL, 4, C, 7, 1, 0);
		for (int i = 0; i < 4 * 7; i++)
			z[i] = tanhf(z[i] / 4.0f) * 4.0f;
		cross_entropy_forward(lz, NULL, z, tg4, 4, 7, 1);
		kc_close("lm_head_ce softcap losses", l2, lz, 4, 1e-6, 1e-7);
		c.cap = 4.0f;
		kc_fd("lm_head_ce dx T4 C24 V7 softcap 4", fd_lm_loss, &c, x, d5, 4 * C, 1e-2f, 1e-3);
		/* lm_head_correct: the argmax of the unchunked logits, over label rows only */
		long want = 0;
		int32_t tc[T];
		linear_forward(lg, x, W, NULL, T, C, V, 1, 0); /* lg held dlogits */
		for (int t = 0; t < T; t++) {
			const float *row = lg + (size_t)t * V;
			int b = 0;
			for (int v = 1; v < V; v++)
				b = row[v] > row[b] ? v : b;
			/* every third row ignored, every other label row the argmax, the rest not */
			tc[t] = t % 3 == 1 ? -100 : t % 2 ? b : (b + 1) % V;
			want += t % 3 != 1 && t % 2;
		}
		long got = lm_head_correct(x, W, tc, T, C, V, 0, scr, K);
		CHECK(got == want && want > 0, "lm_head_correct chunk=5: %ld, want %ld", got, want);
		CHECK(lm_head_correct(x, W, tc, T, C, V, 4.0f, scr, K) == want,
		      "lm_head_correct under a soft cap of 4");
		/* ties: torch.argmax takes the first largest */
		float xt[2] = { 1, 0 }, Wt[3 * 2] = { 0.5f, 0, 2, 0, 2, 0 };
		int32_t t1 = 1, t2 = 2;
		CHECK(lm_head_correct(xt, Wt, &t1, 1, 2, 3, 0, scr, K) == 1, "tie: the first largest");
		CHECK(lm_head_correct(xt, Wt, &t2, 1, 2, 3, 0, scr, K) == 0, "tie: not the second");
		/* lm_head_eval: lm_head_ce's losses and lm_head_correct's count bit for bit, f32 and
		 * bf16 heads, with and without the cap, every chunk size up to past T */
		uint16_t *Wb = malloc(V * C * 2);
		float *Wr = malloc(V * C * 4);
		for (int i = 0; i < V * C; i++) {
			Wb[i] = qt_f32_to_bf16(W[i]);
			Wr[i] = qt_bf16_to_f32(Wb[i]);
		}
		for (int k = 1; k <= T + 1; k += 6)
			for (int bf = 0; bf < 2; bf++)
				for (int cap = 0; cap < 2; cap++) {
					float *sk = malloc(lm_head_ce_scratch(k, C, V) * 4), fc = cap ? 4.0f : 0;
					const float *Wf = bf ? Wr : W;
					lm_head_ce(l1, NULL, x, Wf, tc, T, C, V, 1, fc, sk, k);
					long n1 = lm_head_correct(x, Wf, tc, T, C, V, fc, sk, k);
					for (int t = 0; t < T; t++)
						l2[t] = -1;
					long n2 = lm_head_eval(l2, x, bf ? NULL : W, bf ? Wb : NULL, tc, T, C, V,
					                       fc, sk, k);
					CHECK(n2 == n1 && memcmp(l1, l2, T * 4) == 0,
					      "lm_head_eval chunk %d bf16 %d cap %d: %ld vs %ld hits, losses %s", k,
					      bf, cap, n2, n1, memcmp(l1, l2, T * 4) ? "differ" : "equal");
					free(sk);
				}
		free(Wb), free(Wr);
		free(x), free(W), free(lg), free(l1), free(l2), free(dx1), free(dx2), free(scr);
	}
	return test_main_end();
}
