/* qlora-tools: ISC license. */
/*
 * CUDA vs CPU generation through the same model code (kernels/model/llama.c) over the two
 * backend tables, on the tiny random model (f32 weights, with and without a LoRA adapter): a
 * 2-row prompt of 5 tokens (matvec path), a 1-row prompt of 40 tokens (SGEMM path), then
 * greedy steps; logits within fp32 tolerance at every step and the greedy tokens identical
 * (the "greedy gen output on the GPU equals the CPU's for f32 weights"); then a full
 * llama_forward of a packed sequence. The same with a prefix adapter (prefix tuning, 7
 * random slots in the caches' first slots as gen puts them; positions after the prefix, and
 * from 0), and llama_forward of the packed sequence with it.
 */
#include "kernels/backend.h"
#include "kernels/model/llama.h"
#include "kernels/sample.h"

#include "common/rng.h"
#include "jobs/llama_load.h"
#include "cuda_check.h"

static void run(const struct llama_model *m, const struct adapter *lora, int B, int TP,
                int steps, uint64_t seed)
{
	int P = lora ? lora->prefix_len : 0, V = m->cfg.V, L = P + TP + steps + 1;
	struct qt_err err = { 0 };
	struct llama_cache cc;
	CHECK(llama_cache_init(&cc, m, B, L, &err) == QT_OK, "%s", err.msg);
	CHECK(llama_cache_prefix(&cc, ADAPTER_TABLE(lora), &err) == QT_OK, "%s", err.msg);
	int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * TP), *next = malloc(sizeof(int32_t) * B);
	int32_t *gnext = malloc(sizeof(int32_t) * B);
	float *lg = malloc(sizeof(float) * (size_t)B * V), *glg = malloc(sizeof(float) * (size_t)B * V);
	struct qt_rng r;
	qt_rng_seed(&r, seed);
	for (int i = 0; i < B * TP; i++)
		ids[i] = (int32_t)qt_rng_below(&r, (uint64_t)V);
	char what[80];
	const char *kind = !lora ? "" : P ? (lora->cfg.prefix_pos0 ? " prefix pos0" : " prefix")
	                                  : " lora";
	snprintf(what, sizeof what, "decode B=%d prompt=%d%s", B, TP, kind);
	int gpu = cc_have_gpu(what), ok = 0;
	struct llama_model dm = { 0 };
	struct lora_table dl = { 0 };
	struct llama_cache dc = { 0 };
	const struct qt_backend *be = &qt_backend_cuda;
	if (gpu) {
		ok = llama_model_upload(&dm, m, be, &err) == QT_OK &&
		     (!lora || lora_table_upload(&dl, ADAPTER_TABLE(lora), be, 0, &err) == QT_OK) &&
		     llama_cache_init(&dc, &dm, B, L, &err) == QT_OK &&
		     llama_cache_prefix(&dc, lora ? &dl : NULL, &err) == QT_OK;
		CHECK(ok, "%s", err.msg);
	}
	for (int s = 0; s <= steps; s++) {
		const int32_t *in = s == 0 ? ids : next;
		int tn = s == 0 ? TP : 1;
		/* both backends decode the same input before next (which in may alias) changes */
		CHECK(llama_decode(m, ADAPTER_TABLE(lora), &cc, in, B, tn, lg, &err) == QT_OK, "%s", err.msg);
		if (ok) {
			CHECK(llama_decode(&dm, lora ? &dl : NULL, &dc, in, B, tn, glg, &err) == QT_OK,
			      "%s", err.msg);
			snprintf(what, sizeof what, "decode B=%d step %d%s", B, s, kind);
			cc_close(what, glg, lg, (size_t)B * V, 1e-3, 1e-4, 1e-9);
		}
		for (int b = 0; b < B; b++) {
			next[b] = sample_argmax(lg + (size_t)b * V, V);
			if (!ok)
				continue;
			gnext[b] = sample_argmax(glg + (size_t)b * V, V);
			CHECK(gnext[b] == next[b], "%s row %d: greedy %d vs CPU %d", what, b, gnext[b],
			      next[b]);
		}
	}
	if (gpu) {
		llama_cache_free(&dc);
		lora_table_release(&dl, be);
		llama_free(&dm);
	}
	llama_cache_free(&cc);
	free(ids), free(next), free(gnext), free(lg), free(glg);
}

/* llama_forward of two packed segments with the adapter, both backends. */
static void forward(const struct llama_model *m, const struct adapter *lora)
{
	enum { T = 37 };
	int V = m->cfg.V;
	int32_t ids[T], pos[T], seg[T];
	for (int t = 0; t < T; t++) {
		ids[t] = (int32_t)((t * 7919) % V);
		seg[t] = t < 15 ? 1 : 2;
		pos[t] = t < 15 ? t : t - 15;
	}
	struct qt_err err = { 0 };
	float *lg = malloc(sizeof(float) * (size_t)T * V), *glg = malloc(sizeof(float) * (size_t)T * V);
	CHECK(llama_forward(m, ADAPTER_TABLE(lora), ids, pos, seg, T, lg, &err) == QT_OK, "%s",
	      err.msg);
	if (cc_have_gpu("llama_forward")) {
		struct llama_model dm;
		struct lora_table dl;
		const struct qt_backend *be = &qt_backend_cuda;
		CHECK(llama_model_upload(&dm, m, be, &err) == QT_OK, "%s", err.msg);
		CHECK(lora_table_upload(&dl, ADAPTER_TABLE(lora), be, 0, &err) == QT_OK, "%s", err.msg);
		CHECK(llama_forward(&dm, &dl, ids, pos, seg, T, glg, &err) == QT_OK, "%s", err.msg);
		cc_close(lora->prefix ? "llama_forward packed prefix" : "llama_forward packed lora", glg,
		         lg, (size_t)T * V, 1e-3, 1e-4, 1e-9);
		lora_table_release(&dl, be);
		llama_free(&dm);
	}
	free(lg), free(glg);
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
	struct adapter a;
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	CHECK(adapter_config_parse(&cfg, js, strlen(js), "test", &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&a, &cfg, &dims, &err) == QT_OK, "%s", err.msg);
	struct qt_rng r;
	qt_rng_seed(&r, 9);
	for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *l = &a.lora[i];
		for (int k = 0; k < l->r * l->in; k++)
			l->A[k] = (float)(qt_rng_double(&r) - 0.5) * 0.5f;
		for (int k = 0; k < l->out * l->r; k++)
			l->B[k] = (float)(qt_rng_double(&r) - 0.5) * 0.5f;
	}
	run(&m, NULL, 2, 5, 8, 1);
	run(&m, NULL, 1, 40, 4, 2);
	run(&m, &a, 2, 5, 6, 3);
	forward(&m, &a);
	struct adapter p;
	if (adapter_init_prefix(&p, 7, &dims, m.cfg.NKV, &err) == QT_OK) {
		kc_rand(p.prefix, (size_t)p.prefix_len * adapter_prefix_width(&dims), 10, 1.0f);
		run(&m, &p, 2, 5, 6, 4);
		run(&m, &p, 1, 40, 4, 5);
		forward(&m, &p);
		p.cfg.prefix_pos0 = 1;
		run(&m, &p, 2, 5, 6, 6);
		forward(&m, &p);
		adapter_free(&p);
	} else {
		CHECK(0, "%s", err.msg);
	}
	adapter_free(&a);
	adapter_config_free(&cfg);
	llama_free(&m);
	model_dir_close(&md);
	return test_main_end();
}
