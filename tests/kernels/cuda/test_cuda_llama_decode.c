/* qlora-tools: ISC license. */
/*
 * CUDA vs CPU generation on the tiny random model (f32 weights, with and without a LoRA
 * adapter): a 2-row prompt of 5 tokens (matvec path), a 1-row prompt of 40 tokens (SGEMM
 * path), then greedy steps; logits within fp32 tolerance at every step and the greedy tokens
 * identical (the "greedy gen output on the GPU equals the CPU's for f32 weights").
 */
#include "kernels/cuda/llama_train_cuda.h"
#include "kernels/model/llama.h"
#include "kernels/sample.h"

#include "common/rng.h"
#include "jobs/llama_load.h"
#include "cuda_check.h"

static void run(const struct llama_model *m, const struct adapter *lora, int B, int TP,
                int steps, uint64_t seed)
{
	int V = m->cfg.V, L = TP + steps + 1;
	struct qt_err err = { 0 };
	struct llama_cache cc;
	CHECK(llama_cache_init(&cc, &m->cfg, B, L, &err) == QT_OK, "%s", err.msg);
	int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * TP), *next = malloc(sizeof(int32_t) * B);
	int32_t *gnext = malloc(sizeof(int32_t) * B);
	float *lg = malloc(sizeof(float) * (size_t)B * V), *glg = malloc(sizeof(float) * (size_t)B * V);
	struct qt_rng r;
	qt_rng_seed(&r, seed);
	for (int i = 0; i < B * TP; i++)
		ids[i] = (int32_t)qt_rng_below(&r, (uint64_t)V);
	char what[80];
	snprintf(what, sizeof what, "decode B=%d prompt=%d%s", B, TP, lora ? " lora" : "");
	int gpu = cc_have_gpu(what);
	struct llama_cuda_model *dm = gpu ? llama_cuda_model_upload(m, &err) : NULL;
	struct llama_cuda_lora *dl = dm && lora ? llama_cuda_lora_upload(ADAPTER_TABLE(lora), &err) : NULL;
	struct llama_cuda_cache *dc = dm ? llama_cuda_cache_new(dm, B, L, &err) : NULL;
	if (gpu)
		CHECK(dc && (!lora || dl), "%s", err.msg);
	for (int s = 0; s <= steps; s++) {
		const int32_t *in = s == 0 ? ids : next;
		int tn = s == 0 ? TP : 1;
		CHECK(llama_decode(m, ADAPTER_TABLE(lora), &cc, in, B, tn, lg, &err) == QT_OK, "%s", err.msg);
		for (int b = 0; b < B; b++)
			next[b] = sample_argmax(lg + (size_t)b * V, V);
		if (!dc)
			continue;
		CHECK(llama_decode_cuda(dm, dl, dc, in, B, tn, glg, &err) == QT_OK, "%s", err.msg);
		snprintf(what, sizeof what, "decode B=%d step %d%s", B, s, lora ? " lora" : "");
		cc_close(what, glg, lg, (size_t)B * V, 1e-3, 1e-4, 1e-9);
		for (int b = 0; b < B; b++) {
			gnext[b] = sample_argmax(glg + (size_t)b * V, V);
			CHECK(gnext[b] == next[b], "%s row %d: greedy %d vs CPU %d", what, b, gnext[b],
			      next[b]);
		}
	}
	llama_cuda_cache_free(dc);
	llama_cuda_lora_free(dl);
	llama_cuda_model_free(dm);
	llama_cache_free(&cc);
	free(ids), free(next), free(gnext), free(lg), free(glg);
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
	adapter_free(&a);
	adapter_config_free(&cfg);
	llama_free(&m);
	model_dir_close(&md);
	return test_main_end();
}
