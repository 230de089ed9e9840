/* qlora-tools: ISC license. */
/*
 * Prefix tuning under lora-train's other modes, on the NF4 tiny base of tests/data/lora
 * (base-nf4: 2 layers, GQA 4/2, every linear NF4) and a random prefix of 3 slots, one block of
 * two packed segments, positions after the prefix and from 0 (ChatGLM's):
 *  - QLoRA: on the NF4 base the loss and the prefix gradient are bit-identical to those on the
 *    same base with every NF4 weight dequantized to f32 beforehand (the f32 engine is PEFT's:
 *    test_prefix.c, test_prefix_packed.c);
 *  - gradient checkpointing (no layer's activations kept, one of two, both) gives
 *    bit-identical loss and prefix gradient;
 *  - NEFTune noise (alpha 5) changes the training loss, and the prefix gradient under it
 *    matches central finite differences of the loss with the same noise.
 */
#include "kernels/model/llama_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "jobs/llama_load.h"
#include "kernels/embedding.h"
#include "model_check.h"
#include "test.h"

enum { T = 14, P = 3 };

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

/* The block's summed CE; the prefix gradient (scaled by 1/n) into g when g is not NULL. */
static double run(const struct llama_model *m, const struct lora_table *pre, float *g,
                  size_t np, struct llama_train_ws *ws, const struct batch *b, float mag)
{
	struct lora_table gt = { .prefix_len = P, .prefix = g };
	double s = 0;
	struct qt_err err = { 0 };
	if (g)
		memset(g, 0, np * sizeof *g);
	CHECK(llama_train_block(m, pre, g ? &gt : NULL, ws, b->ids, b->pos, b->seg, b->tgt, T,
	                        1.0f / b->n, mag, 99, NULL, &s, &err) == QT_OK, "%s", err.msg);
	return s;
}

static void modes(const struct llama_model *m, const struct llama_model *f, int pos0)
{
	struct qt_rng r;
	qt_rng_seed(&r, 21 + (uint64_t)pos0);
	size_t np = (size_t)P * m->cfg.n_layer * 2 * m->cfg.NKV * m->cfg.HD;
	float *tab = malloc(np * sizeof *tab), *g = malloc(np * sizeof *g),
	      *g2 = malloc(np * sizeof *g2);
	for (size_t i = 0; i < np; i++)
		tab[i] = (float)(qt_rng_double(&r) - 0.5);
	struct lora_table pre = { .prefix_len = P, .prefix = tab, .prefix_pos0 = pos0 };
	struct batch b;
	make_batch(&b, &r, m->cfg.V);
	struct llama_train_ws *ck = llama_train_ws_new(m, T, 1, 1);
	struct llama_train_ws *all = llama_train_ws_new(m, T, 1, 0);
	struct llama_train_ws *one = llama_train_ws_new_kept(m, T, 1, 1);
	float mag = neftune_magnitude(5.0, T, m->cfg.C);
	const char *how = pos0 ? "positions from 0" : "positions after the prefix";

	double ln = run(m, &pre, g, np, ck, &b, mag), lf = run(f, &pre, g2, np, ck, &b, mag);
	CHECK(ln == lf && memcmp(g, g2, np * sizeof *g) == 0, "%s: NF4 base: loss %.9g vs "
	      "dequantized f32 %.9g, or the prefix gradients differ", how, ln, lf);
	double la = run(m, &pre, g2, np, all, &b, mag);
	CHECK(la == ln && memcmp(g, g2, np * sizeof *g) == 0, "%s: checkpointing changes the loss "
	      "(%.9g vs %.9g) or the prefix gradient", how, ln, la);
	double l1 = run(m, &pre, g2, np, one, &b, mag);
	CHECK(l1 == ln && memcmp(g, g2, np * sizeof *g) == 0, "%s: keeping one layer changes the "
	      "loss (%.9g vs %.9g) or the prefix gradient", how, ln, l1);
	double l0 = run(m, &pre, NULL, np, ck, &b, 0);
	CHECK(l0 != ln, "%s: NEFTune leaves the loss unchanged (%.9g)", how, l0);

	/* central differences of the NEFTune loss (the same noise: the same seed) at the 4
	 * largest gradient entries */
	double worst = 0;
	for (int k = 0; k < 4; k++) {
		size_t at = 0;
		for (size_t i = 1; i < np; i++)
			if (fabsf(g[i]) > fabsf(g[at]))
				at = i;
		float keep = tab[at], h = 1e-2f;
		tab[at] = keep + h;
		double lp = run(m, &pre, NULL, np, ck, &b, mag);
		tab[at] = keep - h;
		double lm = run(m, &pre, NULL, np, ck, &b, mag);
		tab[at] = keep;
		double fd = (lp - lm) / (2.0 * h) / b.n, e = fabs(fd - g[at]) / fabs(g[at]);
		CHECK(e <= 5e-3, "%s: NEFTune: entry %zu: finite difference %.6g, gradient %.6g", how,
		      at, fd, g[at]);
		worst = e > worst ? e : worst;
		g[at] = 0; /* the next largest next time */
	}
	printf("%s: NF4 base = dequantized f32 base and checkpointing of 0, 1, 2 layers, bit for bit "
	       "(loss %.6f with NEFTune, %.6f without); NEFTune gradient vs finite differences: "
	       "rel err <= %.3g\n", how, ln / b.n, l0 / b.n, worst);
	llama_train_ws_free(ck);
	llama_train_ws_free(all);
	llama_train_ws_free(one);
	free(tab), free(g), free(g2);
}

int main(void)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/data/lora/base-nf4", test_srcdir());
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	if (model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) != QT_OK ||
	    llama_load(&m, &md, &err) != QT_OK) {
		CHECK(0, "%s: %s", dir, err.msg);
		return test_main_end();
	}
	/* the same model with every NF4 linear dequantized up front */
	struct llama_model f;
	int nq;
	float *deq = dequant_layers(&f, &m, &nq);
	CHECK(nq == m.cfg.n_layer * LLAMA_N_MODULES, "base-nf4: %d NF4 linears", nq);
	modes(&m, &f, 0);
	modes(&m, &f, 1);
	free(deq);
	free(f.layers);
	llama_free(&m);
	model_dir_close(&md);
	return test_main_end();
}
