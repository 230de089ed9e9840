/* qlora-tools: ISC license. */
/*
 * LoRA training step on the tiny model: the loss equals the CE of the inference forward's
 * logits, gradient checkpointing is built in, and every LoRA gradient checked by central
 * finite differences of the loss (catches sign and transposition errors without Python).
 */
#include "kernels/model/llama_train.h"

#include <math.h>

#include "common/rng.h"
#include "jobs/llama_load.h"
#include "test.h"

static double loss_of(const struct llama_model *m, const struct adapter *a,
                      struct llama_train_ws *ws, const int32_t *ids, const int32_t *pos,
                      const int32_t *seg, const int32_t *tgt, int T, int n)
{
	double s = 0;
	struct qt_err err;
	llama_train_block(m, ADAPTER_TABLE(a), NULL, ws, ids, pos, seg, tgt, T, 0, 0, 0, NULL, &s, &err);
	return s / n;
}

int main(void)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/data/llama/tiny", test_srcdir());
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	CHECK(model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) == QT_OK, "%s", err.msg);
	CHECK(llama_load(&m, &md, &err) == QT_OK, "%s", err.msg);
	const char *js = "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":"
	                 "[\"q_proj\",\"k_proj\",\"v_proj\",\"o_proj\",\"gate_proj\",\"up_proj\","
	                 "\"down_proj\"]}";
	struct adapter_config cfg;
	CHECK(adapter_config_parse(&cfg, js, strlen(js), "test", &err) == QT_OK, "%s", err.msg);
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	struct adapter a, g;
	CHECK(adapter_init(&a, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&g, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	struct qt_rng r;
	qt_rng_seed(&r, 3);
	int nl = dims.n_layers * ADAPTER_N_MODULES;
	for (int i = 0; i < nl; i++) {
		struct lora_pair *l = &a.lora[i];
		for (int k = 0; k < l->r * l->in; k++)
			l->A[k] = (float)(qt_rng_double(&r) - 0.5) * 0.5f;
		for (int k = 0; k < l->out * l->r; k++)
			l->B[k] = (float)(qt_rng_double(&r) - 0.5) * 0.5f;
	}
	enum { T = 14 };
	int32_t ids[T], pos[T], seg[T], tgt[T];
	int n = 0;
	for (int t = 0; t < T; t++) {
		ids[t] = (int32_t)qt_rng_below(&r, 512);
		seg[t] = t < 6 ? 1 : 2;
		pos[t] = t < 6 ? t : t - 6;
	}
	for (int t = 0; t < T; t++) {
		/* the first token of each sample is never a target */
		tgt[t] = (t + 1 < T && t + 1 != 6 && t % 3 != 0) ? ids[t + 1] : -1;
		n += tgt[t] >= 0;
	}
	struct llama_train_ws *ws = llama_train_ws_new(&m, T, 4, 1);
	double sum = 0;
	CHECK(llama_train_block(&m, ADAPTER_TABLE(&a), ADAPTER_TABLE(&g), ws, ids, pos, seg, tgt, T,
	                        1.0f / n, 0, 0, NULL, &sum, &err)
	      == QT_OK, "%s", err.msg);

	/* Loss against the inference path's logits. */
	float *logits = malloc((size_t)T * m.cfg.V * sizeof *logits);
	llama_forward(&m, ADAPTER_TABLE(&a), ids, pos, seg, T, logits, &err);
	double ce = 0;
	for (int t = 0; t < T; t++) {
		if (tgt[t] < 0)
			continue;
		const float *row = logits + (size_t)t * m.cfg.V;
		double mx = row[0], z = 0;
		for (int v = 1; v < m.cfg.V; v++)
			mx = row[v] > mx ? row[v] : mx;
		for (int v = 0; v < m.cfg.V; v++)
			z += exp(row[v] - mx);
		ce += log(z) + mx - row[tgt[t]];
	}
	CHECK(fabs(ce - sum) <= 1e-4 * fabs(ce), "train loss %.8f vs forward CE %.8f", sum, ce);
	free(logits);

	/* Central differences on a few entries of every tensor. */
	double worst = 0;
	int checked = 0;
	for (int i = 0; i < nl; i++) {
		for (int which = 0; which < 2; which++) {
			struct lora_pair *l = &a.lora[i], *gl = &g.lora[i];
			float *p = which ? l->B : l->A, *gp = which ? gl->B : gl->A;
			int cnt = which ? l->out * l->r : l->r * l->in;
			for (int s = 0; s < 2; s++) {
				int k = (int)qt_rng_below(&r, (uint64_t)cnt);
				float keep = p[k], h = 1e-2f;
				p[k] = keep + h;
				double lp = loss_of(&m, &a, ws, ids, pos, seg, tgt, T, n);
				p[k] = keep - h;
				double lm = loss_of(&m, &a, ws, ids, pos, seg, tgt, T, n);
				p[k] = keep;
				double fd = (lp - lm) / (2.0 * h), an = gp[k];
				double e = fabs(fd - an) / (fabs(fd) + 1e-3);
				worst = e > worst ? e : worst;
				CHECK(e < 2e-2, "tensor %d %s[%d]: analytic %.6g, finite difference %.6g", i,
				      which ? "B" : "A", k, an, fd);
				checked++;
			}
		}
	}
	printf("%d gradient entries, worst relative difference %.3g\n", checked, worst);
	llama_train_ws_free(ws);
	adapter_free(&a);
	adapter_free(&g);
	adapter_config_free(&cfg);
	llama_free(&m);
	model_dir_close(&md);
	return test_main_end();
}
