/* qlora-tools: ISC license. */
/*
 * CUDA vs CPU training block: the same llama_train_block (kernels/model/llama_train.c) over
 * the two backend tables, on the tiny random model (tests/data/llama/tiny, f32 weights): loss
 * and every LoRA gradient, with and without checkpointing, with NEFTune and LoRA dropout, two
 * packed segments; then three AdamW steps through the CUDA table against the same steps
 * through the CPU's (fp32 state both sides).
 */
#include "kernels/adamw.h"
#include "kernels/backend.h"
#include "kernels/embedding.h"
#include "kernels/model/llama_train.h"

#include "common/rng.h"
#include "jobs/llama_load.h"
#include "cuda_check.h"

static void randomize(struct adapter *a, uint64_t seed)
{
	struct qt_rng r;
	qt_rng_seed(&r, seed);
	for (int i = 0; i < a->dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *l = &a->lora[i];
		for (int k = 0; k < l->r * l->in; k++)
			l->A[k] = (float)(qt_rng_double(&r) - 0.5) * 0.5f;
		for (int k = 0; k < l->out * l->r; k++)
			l->B[k] = (float)(qt_rng_double(&r) - 0.5) * 0.5f;
	}
}

static void zero(struct adapter *a)
{
	for (int i = 0; i < a->dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *l = &a->lora[i];
		if (l->A) {
			memset(l->A, 0, sizeof(float) * l->r * l->in);
			memset(l->B, 0, sizeof(float) * l->out * l->r);
		}
	}
}

/* Compares every A and B of got with ref. */
static void compare(const char *what, const struct adapter *got, const struct adapter *ref,
                    double rtol, double atol, double nmse)
{
	for (int i = 0; i < ref->dims.n_layers * ADAPTER_N_MODULES; i++) {
		const struct lora_pair *g = &got->lora[i], *r = &ref->lora[i];
		if (!r->A)
			continue;
		char w[96];
		snprintf(w, sizeof w, "%s pair %d A", what, i);
		cc_close(w, g->A, r->A, (size_t)r->r * r->in, rtol, atol, nmse);
		snprintf(w, sizeof w, "%s pair %d B", what, i);
		cc_close(w, g->B, r->B, (size_t)r->out * r->r, rtol, atol, nmse);
	}
}

int main(void)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/data/llama/tiny", test_srcdir());
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	if (model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) != QT_OK ||
	    llama_load(&m, &md, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return test_main_end();
	}
	const char *js = "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":"
	                 "\"all-linear\"}";
	struct adapter_config cfg;
	CHECK(adapter_config_parse(&cfg, js, strlen(js), "test", &err) == QT_OK, "%s", err.msg);
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	struct adapter a, g, g2, mm, vv;
	CHECK(adapter_init(&a, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&g, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&g2, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&mm, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&vv, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	randomize(&a, 3);
	enum { T = 45 };
	int32_t ids[T], pos[T], seg[T], tgt[T];
	struct qt_rng r;
	qt_rng_seed(&r, 5);
	int n = 0;
	for (int t = 0; t < T; t++) {
		ids[t] = (int32_t)qt_rng_below(&r, (uint64_t)m.cfg.V);
		seg[t] = t < 19 ? 1 : 2;
		pos[t] = t < 19 ? t : t - 19;
	}
	for (int t = 0; t < T; t++) {
		tgt[t] = t + 1 < T && t + 1 != 19 && t % 4 != 0 ? ids[t + 1] : -1;
		n += tgt[t] >= 0;
	}
	struct llama_train_dropout drop = { 0.1f, 77, 3, 1 };
	/* mode 0: plain, checkpointing; 1: no checkpointing + NEFTune + dropout */
	for (int mode = 0; mode < 2; mode++) {
		float mag = mode ? neftune_magnitude(5.0, T, m.cfg.C) : 0.0f;
		const struct llama_train_dropout *dp = mode ? &drop : NULL;
		struct llama_train_ws *ws = llama_train_ws_new(&m, T, 4, !mode);
		double loss = 0;
		zero(&g);
		CHECK(llama_train_block(&m, ADAPTER_TABLE(&a), ADAPTER_TABLE(&g), ws, ids, pos, seg,
		                        tgt, T, 1.0f / n, mag, 99, dp, &loss, &err) == QT_OK, "%s",
		      err.msg);
		llama_train_ws_free(ws);
		char what[64];
		snprintf(what, sizeof what, "llama_train_block_cuda mode %d", mode);
		if (!cc_have_gpu(what))
			continue;
		const struct qt_backend *be = &qt_backend_cuda;
		struct llama_model dm;
		struct lora_table dl = { 0 }, dg = { 0 }, dmm = { 0 }, dvv = { 0 };
		int ok = llama_model_upload(&dm, &m, be, &err) == QT_OK &&
		         lora_table_upload(&dl, ADAPTER_TABLE(&a), be, 0, &err) == QT_OK &&
		         lora_table_upload(&dg, ADAPTER_TABLE(&a), be, 1, &err) == QT_OK &&
		         lora_table_upload(&dmm, ADAPTER_TABLE(&a), be, 1, &err) == QT_OK &&
		         lora_table_upload(&dvv, ADAPTER_TABLE(&a), be, 1, &err) == QT_OK;
		struct llama_train_ws *dw = ok ? llama_train_ws_new(&dm, T, 4, !mode) : NULL;
		CHECK(dw != NULL, "%s", err.msg);
		enum { NT = 7 * 2 * 64 };
		float *tp[NT], *tg[NT], *tm[NT], *tv[NT];
		size_t len[NT];
		int nt = dw ? lora_table_tensors(&dl, tp, len, NT) : 0;
		lora_table_tensors(&dg, tg, len, NT);
		lora_table_tensors(&dmm, tm, len, NT);
		lora_table_tensors(&dvv, tv, len, NT);
		CHECK(nt <= NT, "%d tensors", nt);
		if (dw) {
			double dloss = 0;
			CHECK(llama_train_block(&dm, &dl, &dg, dw, ids, pos, seg, tgt, T, 1.0f / n, mag,
			                        99, dp, &dloss, &err) == QT_OK, "%s", err.msg);
			printf("%s: loss gpu %.9g cpu %.9g\n", what, dloss / n, loss / n);
			CHECK(fabs(dloss - loss) <= 1e-5 * fabs(loss), "loss %g vs %g", dloss, loss);
			CHECK(lora_table_download(ADAPTER_TABLE(&g2), &dg, be) == 0, "download");
			compare(what, &g2, &g, 1e-3, 1e-6, 1e-8);
			double ss = 0, dss = -1;
			for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
				if (g.lora[i].A) {
					grad_sumsq(&ss, g.lora[i].A, (size_t)g.lora[i].r * g.lora[i].in);
					grad_sumsq(&ss, g.lora[i].B, (size_t)g.lora[i].out * g.lora[i].r);
				}
			double *dsum = be->alloc(sizeof(double));
			be->zero(dsum, sizeof(double));
			for (int i = 0; i < nt; i++)
				be->grad_sumsq(dsum, tg[i], len[i]);
			CHECK(be->download(&dss, dsum, sizeof dss) == 0, "sumsq");
			be->free(dsum);
			CHECK(fabs(dss - ss) <= 1e-5 * ss, "grad sumsq %g vs %g", dss, ss);
		}
		if (dw && mode == 0) {
			/* three AdamW steps from these gradients, both tables */
			struct adapter p2;
			CHECK(adapter_init(&p2, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
			zero(&mm), zero(&vv);
			/* the device starts from the CPU's gradients: upload them */
			struct lora_table gt;
			adapter_table(&g, &gt);
			for (int i = 0, k = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
				if (gt.pairs[i].A) {
					be->upload(tg[k], gt.pairs[i].A, len[k] * sizeof(float)), k++;
					be->upload(tg[k], gt.pairs[i].B, len[k] * sizeof(float)), k++;
				}
			for (long t = 1; t <= 3; t++) {
				struct adamw_hparams h;
				adamw_hparams_init(&h, 1e-3, 0.9, 0.999, 1e-8, 0.01, t);
				for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++) {
					struct lora_pair *p = &a.lora[i], *gg = &g.lora[i];
					if (!p->A)
						continue;
					adamw_step(p->A, gg->A, mm.lora[i].A, vv.lora[i].A,
					           (size_t)p->r * p->in, &h);
					adamw_step(p->B, gg->B, mm.lora[i].B, vv.lora[i].B,
					           (size_t)p->out * p->r, &h);
				}
				for (int k = 0; k < nt; k++)
					be->adamw_step(tp[k], tg[k], tm[k], tv[k], len[k], &h);
			}
			cc_ok("adamw steps");
			CHECK(lora_table_download(ADAPTER_TABLE(&p2), &dl, be) == 0, "download");
			for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
				if (a.lora[i].A) {
					cc_exact("adamw A", p2.lora[i].A, a.lora[i].A,
					         sizeof(float) * a.lora[i].r * a.lora[i].in);
					cc_exact("adamw B", p2.lora[i].B, a.lora[i].B,
					         sizeof(float) * a.lora[i].out * a.lora[i].r);
				}
			adapter_free(&p2);
			randomize(&a, 3); /* back to the parameters mode 1 expects */
		}
		llama_train_ws_free(dw);
		lora_table_release(&dl, be), lora_table_release(&dg, be);
		lora_table_release(&dmm, be), lora_table_release(&dvv, be);
		if (ok)
			llama_free(&dm);
	}
	adapter_free(&a), adapter_free(&g), adapter_free(&g2), adapter_free(&mm), adapter_free(&vv);
	adapter_config_free(&cfg);
	llama_free(&m);
	model_dir_close(&md);
	return test_main_end();
}
