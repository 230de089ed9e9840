/* qlora-tools: ISC license. */
/*
 * LoRA gradients of one packed block (two samples, prompt tokens masked) on the tiny model
 * against PEFT's (tests/ref/lora_train_golden.py): the same non-zero adapter (init/), the same
 * block (block 0 of train.pack), the loss as the token mean. Every lora_A / lora_B gradient
 * must agree within 1e-3 relative (||ours - PEFT|| / ||PEFT|| per tensor), and the summed CE
 * within 1e-5 relative.
 */
#include "kernels/model/llama_train.h"

#include <math.h>

#include "formats/adapter.h"
#include "formats/pack.h"
#include "jobs/llama_load.h"
#include "test.h"

static double rel_err(const float *a, const float *b, size_t n, double *maxabs)
{
	double d = 0, r = 0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)a[i] - b[i];
		d += e * e;
		r += (double)b[i] * b[i];
		if (fabs(e) > *maxabs)
			*maxabs = fabs(e);
	}
	return sqrt(d) / (sqrt(r) > 0 ? sqrt(r) : 1);
}

int main(void)
{
	char dir[1024], ad[1024], gd[1024], pk[1024], cv[1024];
	snprintf(dir, sizeof dir, "%s/data/llama/tiny", test_srcdir());
	snprintf(ad, sizeof ad, "%s/data/lora_train/init", test_srcdir());
	snprintf(gd, sizeof gd, "%s/data/lora_train/grad0", test_srcdir());
	snprintf(pk, sizeof pk, "%s/data/lora_train/train.pack", test_srcdir());
	snprintf(cv, sizeof cv, "%s/data/lora_train/curve.txt", test_srcdir());
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	CHECK(model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) == QT_OK, "%s", err.msg);
	CHECK(llama_load(&m, &md, &err) == QT_OK, "%s", err.msg);
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	struct adapter a, ref, g;
	CHECK(adapter_load(&a, ad, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_load(&ref, gd, &dims, &err) == QT_OK, "%s", err.msg);
	CHECK(adapter_init(&g, &a.cfg, &dims, &err) == QT_OK, "%s", err.msg);
	struct pack_file pf;
	CHECK(pack_open(&pf, pk, &err) == QT_OK, "%s", err.msg);
	CHECK(pack_verify(&pf, &err) == QT_OK, "%s", err.msg);
	if (test_failed)
		return test_main_end();

	struct pack_block b;
	pack_get_block(&pf, 0, &b);
	int T = (int)b.seq_len, n = 0;
	int32_t *ids = malloc(4 * (size_t)T), *pos = malloc(4 * (size_t)T),
	        *seg = malloc(4 * (size_t)T), *tgt = malloc(4 * (size_t)T);
	for (int t = 0; t < T; t++) {
		ids[t] = (int32_t)b.ids[t];
		seg[t] = b.seg[t];
		pos[t] = (t > 0 && b.seg[t] == b.seg[t - 1]) ? pos[t - 1] + 1 : 0;
		tgt[t] = (t + 1 < T && b.mask[t + 1]) ? (int32_t)b.ids[t + 1] : -1;
		n += tgt[t] >= 0;
	}
	double ref_sum = 0;
	int ref_n = 0;
	FILE *fp = fopen(cv, "r");
	CHECK(fp && fscanf(fp, "%lf %d", &ref_sum, &ref_n) == 2, "%s: no reference loss", cv);
	if (fp)
		fclose(fp);
	CHECK(n == ref_n, "trained targets %d, PEFT %d", n, ref_n);

	struct llama_train_ws *ws = llama_train_ws_new(&m, T, 4, 1);
	double sum = 0;
	CHECK(llama_train_block(&m, ADAPTER_TABLE(&a), ADAPTER_TABLE(&g), ws, ids, pos, seg, tgt, T,
	                        1.0f / n, 0, 0, NULL, &sum, &err)
	      == QT_OK, "%s", err.msg);
	double lerr = fabs(sum - ref_sum) / fabs(ref_sum);
	CHECK(lerr <= 1e-5, "summed CE %.9g, PEFT %.9g", sum, ref_sum);

	double worst = 0, maxabs = 0;
	int tensors = 0;
	for (int i = 0; i < dims.n_layers * ADAPTER_N_MODULES; i++) {
		struct lora_pair *gl = &g.lora[i], *rl = &ref.lora[i];
		CHECK(!gl->A == !rl->A, "pair %d: adapted in one side only", i);
		if (!gl->A || !rl->A)
			continue;
		for (int w = 0; w < 2; w++) {
			size_t cnt = w ? (size_t)gl->out * gl->r : (size_t)gl->r * gl->in;
			double e = rel_err(w ? gl->B : gl->A, w ? rl->B : rl->A, cnt, &maxabs);
			CHECK(e <= 1e-3, "layer %d %s lora_%s: relative error %.3g", i / ADAPTER_N_MODULES,
			      adapter_module_name[i % ADAPTER_N_MODULES], w ? "B" : "A", e);
			worst = e > worst ? e : worst;
			tensors++;
		}
	}
	CHECK(tensors == 2 * dims.n_layers * ADAPTER_N_MODULES, "%d gradient tensors", tensors);
	printf("loss rel %.3g; %d gradient tensors vs PEFT: max relative error %.3g, max abs %.3g\n",
	       lerr, tensors, worst, maxabs);
	free(ids); free(pos); free(seg); free(tgt);
	llama_train_ws_free(ws);
	pack_close(&pf);
	adapter_free(&a);
	adapter_free(&ref);
	adapter_free(&g);
	llama_free(&m);
	model_dir_close(&md);
	return test_main_end();
}
