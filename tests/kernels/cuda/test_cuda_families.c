/* qlora-tools: ISC license. */
/*
 * Every model family through the same model code on the CUDA backend table as on the CPU's
 * (tests/data/family/, tiny random models from tests/ref/family_golden.py, with their PEFT
 * init adapters). Runs here: the refusals, which are properties of the table (the families
 * whose ops the CUDA backend lacks are named, and only those: Gemma-2 today). On a GPU: the packed forward's
 * logits and one training block's loss and LoRA gradients against the CPU's.
 */
#include "kernels/backend.h"
#include "kernels/model/llama_train.h"

#include "jobs/llama_load.h"
#include "cuda_check.h"

/* What the CUDA table cannot run yet, per family (NULL: it runs all of it). */
static const struct { const char *name, *missing; } families[] = {
	{ "llama-bias", NULL },
	{ "mistral-window", NULL },
	{ "qwen2", NULL },
	{ "qwen2-window", NULL },
	{ "qwen3", NULL },
	{ "gemma", NULL },
	{ "phi3", NULL },
	{ "gemma2", "Gemma-2's attention scale and soft caps" },
	{ "glm", NULL },
	{ "glm4", NULL },
};

/* Summed loss and the LoRA gradients of one block of T tokens (two packed segments) through
 * model m and adapter a (in m's backend memory), downloaded into g. */
static int block(const struct llama_model *m, const struct lora_table *a, struct lora_table *dg,
                 struct adapter *g, const int32_t *ids, int T, double *loss)
{
	int32_t *pos = malloc(4 * (size_t)T), *seg = malloc(4 * (size_t)T), *tgt = malloc(4 * (size_t)T);
	int n = 0, cut = T / 3;
	for (int t = 0; t < T; t++) {
		seg[t] = t < cut ? 1 : 2;
		pos[t] = t < cut ? t : t - cut;
		tgt[t] = t + 1 < T && t + 1 != cut ? ids[t + 1] : -1;
		n += tgt[t] >= 0;
	}
	struct qt_err err = { 0 };
	struct llama_train_ws *ws = llama_train_ws_new(m, T, 4, 1);
	*loss = 0;
	int st = ws ? llama_train_block(m, a, dg, ws, ids, pos, seg, tgt, T, 1.0f / n, 0, 0, NULL,
	                                loss, &err) : QT_ESOFTWARE;
	CHECK(st == QT_OK, "%s", err.msg);
	if (st == QT_OK && llama_be(m) != &qt_backend_cpu)
		CHECK(lora_table_download(ADAPTER_TABLE(g), dg, llama_be(m)) == 0, "download");
	llama_train_ws_free(ws);
	free(pos), free(seg), free(tgt);
	return st;
}

static void family(const char *name, const char *missing)
{
	char dir[1024], init[1100];
	snprintf(dir, sizeof dir, "%s/data/family/%s", test_srcdir(), name);
	snprintf(init, sizeof init, "%s-lora-init", dir);
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	if (model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) != QT_OK ||
	    llama_load(&m, &md, &err) != QT_OK) {
		CHECK(0, "%s: %s", name, err.msg);
		return;
	}
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	struct adapter a, g, gd;
	CHECK(adapter_load(&a, init, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&g, &a.cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&gd, &a.cfg, &dims, &err) == QT_OK, "%s", err.msg);
	const struct qt_backend *be = &qt_backend_cuda;
	const char *why = llama_backend_missing(&m, ADAPTER_TABLE(&a), be);
	CHECK(missing ? why && strcmp(why, missing) == 0 : !why, "%s on cuda: lacks \"%s\", "
	      "expected \"%s\"", name, why ? why : "nothing", missing ? missing : "nothing");
	enum { T = 29 };
	int32_t ids[T], pos[T], seg[T];
	for (int t = 0; t < T; t++) {
		ids[t] = (int32_t)((t * 7919 + 13) % m.cfg.V);
		seg[t] = t < 11 ? 1 : 2;
		pos[t] = t < 11 ? t : t - 11;
	}
	size_t nl = (size_t)T * m.cfg.V;
	float *lg = malloc(nl * sizeof *lg), *glg = malloc(nl * sizeof *glg);
	double loss = 0, gloss = 0;
	CHECK(llama_forward(&m, ADAPTER_TABLE(&a), ids, pos, seg, T, lg, &err) == QT_OK, "%s",
	      err.msg);
	block(&m, ADAPTER_TABLE(&a), ADAPTER_TABLE(&g), &g, ids, T, &loss);
	char what[96];
	snprintf(what, sizeof what, "family %s on cuda", name);
	if (!why && cc_have_gpu(what)) {
		struct llama_model dm;
		struct lora_table dl = { 0 }, dg = { 0 };
		if (llama_model_upload(&dm, &m, be, &err) == QT_OK &&
		    lora_table_upload(&dl, ADAPTER_TABLE(&a), be, 0, &err) == QT_OK &&
		    lora_table_upload(&dg, ADAPTER_TABLE(&a), be, 1, &err) == QT_OK) {
			CHECK(llama_forward(&dm, &dl, ids, pos, seg, T, glg, &err) == QT_OK, "%s",
			      err.msg);
			snprintf(what, sizeof what, "%s forward", name);
			cc_close(what, glg, lg, nl, 1e-3, 1e-4, 1e-9);
			if (block(&dm, &dl, &dg, &gd, ids, T, &gloss) == QT_OK) {
				CHECK(fabs(gloss - loss) <= 1e-5 * fabs(loss), "%s loss %.9g vs %.9g", name,
				      gloss, loss);
				for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++)
					if (g.lora[i].A) {
						snprintf(what, sizeof what, "%s pair %d A", name, i);
						cc_close(what, gd.lora[i].A, g.lora[i].A,
						         (size_t)g.lora[i].r * g.lora[i].in, 1e-3, 1e-6, 1e-8);
						snprintf(what, sizeof what, "%s pair %d B", name, i);
						cc_close(what, gd.lora[i].B, g.lora[i].B,
						         (size_t)g.lora[i].out * g.lora[i].r, 1e-3, 1e-6, 1e-8);
					}
			}
		} else {
			CHECK(0, "%s: %s", name, err.msg);
		}
		lora_table_release(&dl, be), lora_table_release(&dg, be);
		llama_free(&dm);
	}
	free(lg), free(glg);
	adapter_free(&a), adapter_free(&g), adapter_free(&gd);
	llama_free(&m);
	model_dir_close(&md);
}

int main(void)
{
	for (size_t i = 0; i < sizeof families / sizeof *families; i++)
		family(families[i].name, families[i].missing);
	return test_main_end();
}
