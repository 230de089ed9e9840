/* qlora-tools: ISC license. */
/*
 * Training modes of llama_train_block on the tiny models:
 *  - LoRA dropout kernels: the dropped fraction is p (binomial, 6 sigma), kept values are
 *    x / (1 - p), the backward uses the same mask;
 *  - dropout p = 0 is bit-identical to no dropout; evaluation (grad NULL) ignores dropout;
 *  - gradient checkpointing on and off give bit-identical loss and gradients (with dropout);
 *  - with dropout on, every LoRA gradient matches central finite differences of the training
 *    loss under the same fixed masks;
 *  - on an NF4 base (tests/data/lora/base-nf4), loss and gradients equal those on the same base
 *    with every NF4 weight dequantized to f32 beforehand;
 *  - with the frozen base in bf16 (frozen_set_bf16, lora-train --bf16), the same again, and the
 *    same loss and gradients from VDPBF16PS as from the portable f32 code (where the CPU has
 *    AVX512_BF16), other numbers than the f32 products'.
 */
#include "kernels/model/llama_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "jobs/llama_load.h"
#include "kernels/dropout.h"
#include "kernels/frozen.h"
#include "kernels/gemm_bf16.h"
#include "model_check.h"
#include "test.h"

enum { T = 14 };
struct batch { int32_t ids[T], pos[T], seg[T], tgt[T]; int n; };

static void make_batch(struct batch *b, struct qt_rng *r, int V)
{
	b->n = 0;
	for (int t = 0; t < T; t++) {
		b->ids[t] = (int32_t)qt_rng_below(r, (uint64_t)V);
		b->seg[t] = t < 6 ? 1 : 2;
		b->pos[t] = t < 6 ? t : t - 6;
	}
	for (int t = 0; t < T; t++) {
		b->tgt[t] = (t + 1 < T && t + 1 != 6 && t % 3 != 0) ? b->ids[t + 1] : -1;
		b->n += b->tgt[t] >= 0;
	}
}

static void zero(struct adapter *g)
{
	for (int i = 0; i < g->dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *l = &g->lora[i];
		memset(l->A, 0, (size_t)l->r * l->in * sizeof(float));
		memset(l->B, 0, (size_t)l->out * l->r * sizeof(float));
	}
}

static double run(const struct llama_model *m, const struct adapter *a, struct adapter *g,
                  struct llama_train_ws *ws, const struct batch *b,
                  const struct llama_train_dropout *d)
{
	double s = 0;
	struct qt_err err;
	if (g)
		zero(g);
	CHECK(llama_train_block(m, ADAPTER_TABLE(a), ADAPTER_TABLE(g), ws, b->ids, b->pos, b->seg,
	                        b->tgt, T, 1.0f / b->n, 0, 0, d, &s, &err) == QT_OK, "%s", err.msg);
	return s;
}

static void dropout_kernels(void)
{
	size_t n = 1 << 20;
	float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *dx = calloc(n, sizeof *dx);
	for (size_t i = 0; i < n; i++)
		x[i] = 1.0f + (float)(i % 7);
	double ps[] = { 0.1, 0.3, 0.5 };
	for (int k = 0; k < 3; k++) {
		float p = (float)ps[k], sc = dropout_scale(ps[k]);
		uint64_t seed = llama_train_dropout_seed(42, 3, 1, 2, k);
		dropout_forward(y, x, n, p, sc, seed);
		memset(dx, 0, n * sizeof *dx);
		dropout_backward(dx, x, n, p, sc, seed);
		size_t dropped = 0, bad = 0;
		for (size_t i = 0; i < n; i++) {
			dropped += y[i] == 0.0f;
			bad += y[i] != 0.0f && y[i] != x[i] * sc;
			bad += dx[i] != y[i];
		}
		double f = (double)dropped / n, sd = sqrt(ps[k] * (1 - ps[k]) / n);
		CHECK(fabs(f - ps[k]) < 6 * sd, "p %.1f: dropped fraction %.5f", ps[k], f);
		CHECK(bad == 0, "p %.1f: %zu values not x/(1-p) or a backward off the mask", ps[k], bad);
		printf("dropout p %.1f: dropped %.5f (%.1f sigma)\n", ps[k], f, (f - ps[k]) / sd);
	}
	CHECK(llama_train_dropout_seed(42, 3, 1, 2, 0) != llama_train_dropout_seed(42, 3, 1, 2, 1) &&
	      llama_train_dropout_seed(42, 3, 1, 2, 0) != llama_train_dropout_seed(42, 4, 1, 2, 0) &&
	      llama_train_dropout_seed(42, 3, 1, 2, 0) != llama_train_dropout_seed(42, 3, 0, 2, 0) &&
	      llama_train_dropout_seed(42, 3, 1, 2, 0) != llama_train_dropout_seed(42, 3, 1, 1, 0), "seeds collide");
	free(x), free(y), free(dx);
}

static void modes(const struct llama_model *m)
{
	struct qt_rng r;
	qt_rng_seed(&r, 11);
	struct adapter a, g, g2;
	make_lora(&a, m, &r);
	make_lora(&g, m, NULL);
	struct adapter_dims dims = llama_adapter_dims(&m->cfg);
	struct qt_err err;
	CHECK(adapter_init(&g2, &a.cfg, &dims, &err) == QT_OK, "%s", err.msg);
	struct batch b;
	make_batch(&b, &r, m->cfg.V);
	struct llama_train_ws *ck = llama_train_ws_new(m, T, 4, 1);
	struct llama_train_ws *all = llama_train_ws_new(m, T, 4, 0);
	CHECK(llama_train_ws_bytes(all) > llama_train_ws_bytes(ck), "no-checkpointing is larger");

	struct llama_train_dropout d0 = { 0.0f, 42, 1, 0 }, d = { 0.3f, 42, 1, 0 };
	double l0 = run(m, &a, &g, ck, &b, NULL), l1 = run(m, &a, &g2, ck, &b, &d0);
	CHECK(l0 == l1 && same_grads(&g, &g2), "dropout 0 changes the step");
	double ld = run(m, &a, &g, ck, &b, &d);
	CHECK(ld != l0, "dropout 0.3 leaves the loss unchanged (%.9g)", ld);
	CHECK(run(m, &a, NULL, ck, &b, &d) == l0, "evaluation applies dropout");
	double ldn = run(m, &a, &g2, all, &b, &d);
	CHECK(ld == ldn && same_grads(&g, &g2), "checkpointing changes loss or gradients (dropout)");
	l1 = run(m, &a, &g2, all, &b, NULL);
	CHECK(l1 == l0, "checkpointing changes the loss");
	/* Some layers kept, the others recomputed: the same step again, in less memory than
	 * keeping all and more than keeping none. */
	for (int kept = 1; kept < m->cfg.n_layer; kept++) {
		struct llama_train_ws *part = llama_train_ws_new_kept(m, T, 4, kept);
		CHECK(llama_train_ws_bytes(part) > llama_train_ws_bytes(ck) &&
		      (kept == m->cfg.n_layer - 1 ||
		       llama_train_ws_bytes(part) < llama_train_ws_bytes(all)),
		      "%d layers kept: %zu bytes", kept, llama_train_ws_bytes(part));
		CHECK(llama_train_ws_bytes(part) - llama_train_ws_bytes(ck) ==
		      (size_t)kept * llama_train_layer_bytes(m, T, 4),
		      "%d layers kept: not %d layers' activations more than none", kept, kept);
		double lp = run(m, &a, &g2, part, &b, &d);
		CHECK(lp == ld && same_grads(&g, &g2), "%d of %d layers kept: the step changes", kept,
		      m->cfg.n_layer);
		llama_train_ws_free(part);
	}
	/* The recomputed layers keeping attention's outputs (their recompute skips attention and
	 * the o and down products): the same step, in that much more memory a layer but the
	 * highest recomputed one, whose buffers the others share. */
	size_t lb = llama_train_layer_bytes(m, T, 4), ab = llama_train_attn_bytes(m, T, 4);
	CHECK(ab > 0 && ab < lb, "attention outputs: %zu bytes of a layer's %zu", ab, lb);
	for (int kept = 0; kept <= m->cfg.n_layer; kept++) {
		struct llama_train_ws *part = llama_train_ws_new_plan(m, T, 4, kept, 1);
		size_t nl = (size_t)m->cfg.n_layer, k = (size_t)kept;
		size_t want = k == nl ? (nl - 1) * lb : k * lb + (nl - k - 1) * ab;
		CHECK(llama_train_ws_bytes(part) - llama_train_ws_bytes(ck) == want,
		      "%d layers kept, the others' attention: %zu bytes more than none, not %zu", kept,
		      llama_train_ws_bytes(part) - llama_train_ws_bytes(ck), want);
		double lp = run(m, &a, &g2, part, &b, &d);
		CHECK(lp == ld && same_grads(&g, &g2),
		      "%d of %d layers kept, the others' attention: the step changes", kept,
		      m->cfg.n_layer);
		lp = run(m, &a, &g2, part, &b, NULL);
		CHECK(lp == l0, "%d layers kept, the others' attention: the loss changes (no dropout)",
		      kept);
		llama_train_ws_free(part);
	}

	/* Finite differences of the dropout training loss, masks fixed by the seed. */
	run(m, &a, &g, ck, &b, &d);
	double worst = 0;
	int checked = 0;
	for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
		for (int which = 0; which < 2; which++) {
			struct lora_pair *l = &a.lora[i], *gl = &g.lora[i];
			float *p = which ? l->B : l->A, *gp = which ? gl->B : gl->A;
			int cnt = which ? l->out * l->r : l->r * l->in;
			for (int s = 0; s < 2; s++) {
				int k = (int)qt_rng_below(&r, (uint64_t)cnt);
				float keep = p[k], h = 1e-2f;
				p[k] = keep + h;
				double lp = run(m, &a, &g2, ck, &b, &d) / b.n;
				p[k] = keep - h;
				double lm = run(m, &a, &g2, ck, &b, &d) / b.n;
				p[k] = keep;
				double fd = (lp - lm) / (2.0 * h), an = gp[k];
				double e = fabs(fd - an) / (fabs(fd) + 1e-3);
				worst = e > worst ? e : worst;
				CHECK(e < 2e-2, "dropout: tensor %d %s[%d]: analytic %.6g, finite difference "
				      "%.6g", i, which ? "B" : "A", k, an, fd);
				checked++;
			}
		}
	printf("dropout 0.3: %d gradient entries vs finite differences, worst %.3g\n", checked,
	       worst);
	llama_train_ws_free(ck);
	llama_train_ws_free(all);
	adapter_free(&a);
	adapter_free(&g);
	adapter_free(&g2);
}

/* NF4 base vs the same base with its weights dequantized to f32 up front. */
static void nf4_base(void)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/data/lora/base-nf4", test_srcdir());
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	if (model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) != QT_OK ||
	    llama_load(&m, &md, &err) != QT_OK) {
		CHECK(0, "%s: %s", dir, err.msg);
		return;
	}
	/* dequantized as llama_train dequantizes an NF4 layer (model_check.h) */
	struct llama_model f;
	int nq;
	float *deq = dequant_layers(&f, &m, &nq);
	CHECK(nq == m.cfg.n_layer * LLAMA_N_MODULES, "base-nf4: %d NF4 linears", nq);
	struct qt_rng r;
	qt_rng_seed(&r, 5);
	struct adapter a, g, g2;
	make_lora(&a, &m, &r);
	make_lora(&g, &m, NULL);
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	CHECK(adapter_init(&g2, &a.cfg, &dims, &err) == QT_OK, "%s", err.msg);
	struct batch b;
	make_batch(&b, &r, m.cfg.V);
	struct llama_train_ws *ws = llama_train_ws_new(&m, T, 4, 1);
	struct llama_train_dropout d = { 0.2f, 7, 1, 0 };
	double ln = run(&m, &a, &g, ws, &b, &d), lf = run(&f, &a, &g2, ws, &b, &d);
	CHECK(ln == lf && same_grads(&g, &g2), "NF4 base: loss %.9g vs dequantized f32 %.9g, or "
	      "gradients differ", ln, lf);
	printf("NF4 base: loss and every gradient bit-identical to the dequantized f32 base\n");

	frozen_set_bf16(1);
	bgemm_set_path(BGEMM_PORTABLE);
	double bn = run(&m, &a, &g, ws, &b, &d), bf = run(&f, &a, &g2, ws, &b, &d);
	CHECK(bn == bf && same_grads(&g, &g2), "bf16 products: NF4 base %.9g vs dequantized %.9g, "
	      "or gradients differ", bn, bf);
	CHECK(bn != ln && fabs(bn - ln) < 1e-2 * fabs(ln), "bf16 products: loss %.9g, f32 %.9g", bn,
	      ln);
	if (bgemm_set_path(BGEMM_NATIVE) == 0) {
		double bv = run(&m, &a, &g2, ws, &b, &d);
		CHECK(bv == bn && same_grads(&g, &g2), "VDPBF16PS: loss %.9g vs portable %.9g, or "
		      "gradients differ", bv, bn);
	} else {
		SKIP("no AVX512_BF16 on this CPU: VDPBF16PS not compared with the portable code");
	}
	bgemm_set_path(BGEMM_AUTO);
	frozen_set_bf16(0);
	llama_train_ws_free(ws);
	adapter_free(&a);
	adapter_free(&g);
	adapter_free(&g2);
	free(deq);
	free(f.layers);
	llama_free(&m);
	model_dir_close(&md);
}

int main(void)
{
	dropout_kernels();
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/data/llama/tiny", test_srcdir());
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	CHECK(model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) == QT_OK, "%s", err.msg);
	CHECK(llama_load(&m, &md, &err) == QT_OK, "%s", err.msg);
	modes(&m);
	llama_free(&m);
	model_dir_close(&md);
	nf4_base();
	return test_main_end();
}
