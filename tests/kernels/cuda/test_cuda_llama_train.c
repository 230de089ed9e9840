/* qlora-tools: ISC license. */
/*
 * CUDA vs CPU training block on the tiny random model (tests/data/llama/tiny, f32 weights):
 * loss and every LoRA gradient of llama_train_block_cuda against llama_train_block, with and
 * without checkpointing, with NEFTune and LoRA dropout, two packed segments; then three AdamW
 * steps on the device against the same steps on the host (fp32 state both sides).
 */
#include "kernels/adamw.h"
#include "kernels/cuda/llama_train_cuda.h"
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
		struct llama_cuda_model *dm = llama_cuda_model_upload(&m, &err);
		struct llama_cuda_lora *dl = dm ? llama_cuda_lora_upload(ADAPTER_TABLE(&a), &err) : NULL;
		struct llama_cuda_ws *dw = dl ? llama_cuda_ws_new(dm, T, 4, !mode, &err) : NULL;
		CHECK(dw != NULL, "%s", err.msg);
		if (dw) {
			double dloss = 0;
			CHECK(llama_train_block_cuda(dm, dl, 1, dw, ids, pos, seg, tgt, T, 1.0f / n, mag,
			                             99, dp, &dloss, &err) == QT_OK, "%s", err.msg);
			printf("%s: loss gpu %.9g cpu %.9g\n", what, dloss / n, loss / n);
			CHECK(fabs(dloss - loss) <= 1e-5 * fabs(loss), "loss %g vs %g", dloss, loss);
			CHECK(llama_cuda_lora_sync(dl, NULL, ADAPTER_TABLE(&g2), NULL, NULL, 0) == 0, "download");
			compare(what, &g2, &g, 1e-3, 1e-6, 1e-8);
			double ss = 0, dss = -1;
			for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
				if (g.lora[i].A) {
					grad_sumsq(&ss, g.lora[i].A, (size_t)g.lora[i].r * g.lora[i].in);
					grad_sumsq(&ss, g.lora[i].B, (size_t)g.lora[i].out * g.lora[i].r);
				}
			CHECK(llama_cuda_lora_grad_sumsq(dl, &dss) == 0, "sumsq");
			CHECK(fabs(dss - ss) <= 1e-5 * ss, "grad sumsq %g vs %g", dss, ss);
		}
		if (dw && mode == 0) {
			/* three AdamW steps from these gradients, both sides */
			struct adapter p2;
			CHECK(adapter_init(&p2, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
			zero(&mm), zero(&vv);
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
				/* the device starts from the CPU's gradients: upload them */
				llama_cuda_lora_sync(dl, NULL, ADAPTER_TABLE(&g), NULL, NULL, 1);
				llama_cuda_lora_adamw(dl, &h);
			}
			cc_ok("adamw steps");
			CHECK(llama_cuda_lora_sync(dl, ADAPTER_TABLE(&p2), NULL, NULL, NULL, 0) == 0, "download");
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
		llama_cuda_ws_free(dw);
		llama_cuda_lora_free(dl);
		llama_cuda_model_free(dm);
	}
	adapter_free(&a), adapter_free(&g), adapter_free(&g2), adapter_free(&mm), adapter_free(&vv);
	adapter_config_free(&cfg);
	llama_free(&m);
	model_dir_close(&md);
	return test_main_end();
}
