/* qlora-tools: ISC license. */
/*
 * One optimizer step on the DEFAULT model ($QT_MODEL_DIR, SmolLM2-135M-Instruct) against PEFT
 * (tests/ref/lora_train_smollm2.py): the same non-zero r 2 adapter on all seven linears
 * (lora_train_smollm2/init, BF16), the same two packed blocks of 128 tokens (grad.pack, three
 * samples, prompts masked), the step loss = summed CE / trained targets of both blocks. The
 * summed CE within 1e-5 relative and every lora_A / lora_B gradient within 1e-3 relative
 * (||ours - PEFT|| / ||PEFT|| per tensor). Skipped without the model.
 */
#include "kernels/model/llama_train.h"

#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/io.h"
#include "formats/adapter.h"
#include "formats/pack.h"
#include "jobs/llama_load.h"
#include "test.h"

static double rel_err(const float *a, const float *b, size_t n)
{
	double d = 0, r = 0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)a[i] - b[i];
		d += e * e;
		r += (double)b[i] * b[i];
	}
	return sqrt(d) / (sqrt(r) > 0 ? sqrt(r) : 1);
}

int main(void)
{
	const char *dir = getenv("QT_MODEL_DIR");
	struct stat sb;
	if (!dir || !*dir || stat(dir, &sb) != 0) {
		SKIP("QT_MODEL_DIR unset or missing: no default-model gradient check");
		return test_main_end();
	}
	char *ad = qt_path_join(test_srcdir(), "data/lora_train_smollm2/init");
	char *gd = qt_path_join(test_srcdir(), "data/lora_train_smollm2/grad");
	char *pk = qt_path_join(test_srcdir(), "data/lora_train_smollm2/grad.pack");
	char *gt = qt_path_join(test_srcdir(), "data/lora_train_smollm2/grad.txt");
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	CHECK(model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) == QT_OK, "%s", err.msg);
	CHECK(llama_load(&m, &md, &err) == QT_OK, "%s", err.msg);
	if (test_failed)
		return test_main_end();
	m.n_threads = 2;
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	struct adapter a, ref, g;
	struct pack_file pf;
	CHECK(adapter_load(&a, ad, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_load(&ref, gd, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&g, &a.cfg, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(pack_open(&pf, pk, &err) == QT_OK && pack_verify(&pf, &err) == QT_OK, "%s", err.msg);
	if (test_failed)
		return test_main_end();

	int T = (int)pf.h.seq_len, n = 0;
	int32_t *ids = malloc(4 * (size_t)T), *pos = malloc(4 * (size_t)T),
	        *seg = malloc(4 * (size_t)T), *tgt = malloc(4 * (size_t)T);
	for (uint64_t i = 0; i < pf.h.n_blocks; i++) {
		struct pack_block b;
		pack_get_block(&pf, i, &b);
		for (int t = 1; t < T; t++)
			n += b.mask[t];
	}
	double ref_sum = 0;
	int ref_n = 0;
	FILE *fp = fopen(gt, "r");
	CHECK(fp && fscanf(fp, "%lf %d", &ref_sum, &ref_n) == 2, "%s: no reference loss", gt);
	if (fp)
		fclose(fp);
	CHECK(n == ref_n, "trained targets %d, PEFT %d", n, ref_n);

	struct llama_train_ws *ws = llama_train_ws_new(&m, T, 2, 1);
	double sum = 0;
	for (uint64_t i = 0; i < pf.h.n_blocks; i++) {
		struct pack_block b;
		pack_get_block(&pf, i, &b);
		for (int t = 0; t < T; t++) {
			ids[t] = (int32_t)b.ids[t];
			seg[t] = b.seg[t];
			pos[t] = (t > 0 && b.seg[t] == b.seg[t - 1]) ? pos[t - 1] + 1 : 0;
			tgt[t] = (t + 1 < T && b.mask[t + 1]) ? (int32_t)b.ids[t + 1] : -1;
		}
		CHECK(llama_train_block(&m, ADAPTER_TABLE(&a), ADAPTER_TABLE(&g), ws, ids, pos, seg,
		                        tgt, T, 1.0f / n, 0, 0, NULL, &sum, &err) == QT_OK, "%s", err.msg);
	}
	double lerr = fabs(sum - ref_sum) / fabs(ref_sum);
	CHECK(lerr <= 1e-5, "summed CE %.9g, PEFT %.9g", sum, ref_sum);

	double worst = 0;
	int tensors = 0;
	for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *gl = &g.lora[i], *rl = &ref.lora[i];
		CHECK(!gl->A == !rl->A, "pair %d: adapted in one side only", i);
		if (!gl->A || !rl->A)
			continue;
		for (int w = 0; w < 2; w++) {
			size_t cnt = w ? (size_t)gl->out * gl->r : (size_t)gl->r * gl->in;
			double e = rel_err(w ? gl->B : gl->A, w ? rl->B : rl->A, cnt);
			CHECK(e <= 1e-3, "layer %d %s lora_%s: relative error %.3g", i / ADAPTER_N_MODULES,
			      adapter_module_name[i % ADAPTER_N_MODULES], w ? "B" : "A", e);
			worst = e > worst ? e : worst;
			tensors++;
		}
	}
	CHECK(tensors == 2 * dims.n_layers * ADAPTER_N_MODULES, "%d gradient tensors", tensors);
	printf("SmolLM2-135M one step (2 blocks, %d targets): loss %.6f, rel err %.3g; %d gradient "
	       "tensors vs PEFT: max relative error %.3g\n", n, sum / n, lerr, tensors, worst);
	free(ids), free(pos), free(seg), free(tgt);
	free(ad), free(gd), free(pk), free(gt);
	llama_train_ws_free(ws);
	pack_close(&pf);
	adapter_free(&a);
	adapter_free(&ref);
	adapter_free(&g);
	llama_free(&m);
	model_dir_close(&md);
	return test_main_end();
}
