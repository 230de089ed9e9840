/* qlora-tools: ISC license. */
/*
 * One optimizer step of prefix tuning on the DEFAULT model ($QT_MODEL_DIR, SmolLM2-135M-Instruct,
 * 30 layers, GQA 9/3) against PEFT 0.21.2 (tests/ref/prefix_smollm2_grad_golden.py): PEFT's
 * prefix adapter of 8 slots (prefix/smollm2-prefix), the two packed blocks of 128 tokens of
 * lora_train_smollm2/grad.pack (three samples, prompts masked), the step loss = summed CE /
 * trained targets of both blocks. The summed CE within 1e-5 relative and the gradient of
 * prompt_embeddings within 1e-3 relative (||ours - PEFT|| / ||PEFT||), both with gradient
 * checkpointing and without. Skipped without the model.
 */
#include "kernels/model/llama_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/io.h"
#include "formats/pack.h"
#include "jobs/llama_load.h"
#include "test.h"

#include "model_check.h"

/* ||a - b|| / ||b|| */
static double rel_l2(const float *a, const float *b, size_t n)
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
		SKIP("QT_MODEL_DIR unset or missing: no default-model prefix gradient check");
		return test_main_end();
	}
	char *ad = qt_path_join(test_srcdir(), "data/prefix/smollm2-prefix");
	char *gd = qt_path_join(test_srcdir(), "data/prefix/smollm2-grad");
	char *gt = qt_path_join(test_srcdir(), "data/prefix/smollm2-grad.txt");
	char *pk = qt_path_join(test_srcdir(), "data/lora_train_smollm2/grad.pack");
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	struct pack_file pf;
	CHECK(model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) == QT_OK, "%s", err.msg);
	CHECK(llama_load(&m, &md, &err) == QT_OK, "%s", err.msg);
	CHECK(pack_open(&pf, pk, &err) == QT_OK && pack_verify(&pf, &err) == QT_OK, "%s", err.msg);
	if (test_failed)
		return test_main_end();
	m.n_threads = 2;
	int P = 0, Pg = 0;
	size_t n = 0, ng = 0;
	float *tab = load_prefix_table(ad, &P, &n), *want = load_prefix_table(gd, &Pg, &ng);
	double ref_sum = 0;
	int ref_n = 0;
	FILE *fp = fopen(gt, "r");
	CHECK(fp && fscanf(fp, "%lf %d", &ref_sum, &ref_n) == 2, "%s: no reference loss", gt);
	if (fp)
		fclose(fp);
	CHECK(tab && want && P == Pg && n == ng &&
	      n == (size_t)m.cfg.n_layer * 2 * m.cfg.NKV * m.cfg.HD, "prefix tables %dx%zu, %dx%zu",
	      P, n, Pg, ng);
	if (test_failed)
		return test_main_end();

	int T = (int)pf.h.seq_len, nt = 0;
	int32_t *ids = malloc(4 * (size_t)T), *pos = malloc(4 * (size_t)T),
	        *seg = malloc(4 * (size_t)T), *tgt = malloc(4 * (size_t)T);
	for (uint64_t i = 0; i < pf.h.n_blocks; i++) {
		struct pack_block b;
		pack_get_block(&pf, i, &b);
		for (int t = 1; t < T; t++)
			nt += b.mask[t];
	}
	CHECK(nt == ref_n, "trained targets %d, PEFT %d", nt, ref_n);
	struct lora_table pre = { .prefix_len = P, .prefix = tab };
	float *g = malloc((size_t)P * n * sizeof *g);
	for (int ckpt = 1; ckpt >= 0; ckpt--) {
		struct lora_table gtab = { .prefix_len = P, .prefix = g };
		struct llama_train_ws *ws = llama_train_ws_new(&m, T, 1, ckpt);
		memset(g, 0, (size_t)P * n * sizeof *g);
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
			CHECK(llama_train_block(&m, &pre, &gtab, ws, ids, pos, seg, tgt, T, 1.0f / nt, 0,
			                        0, NULL, &sum, &err) == QT_OK, "%s", err.msg);
		}
		double lerr = fabs(sum - ref_sum) / fabs(ref_sum);
		double ge = rel_l2(g, want, (size_t)P * n);
		CHECK(lerr <= 1e-5, "checkpointing %d: summed CE %.9g, PEFT %.9g", ckpt, sum, ref_sum);
		CHECK(ge <= 1e-3, "checkpointing %d: prompt_embeddings gradient relative error %.3g",
		      ckpt, ge);
		printf("SmolLM2-135M prefix step (%d slots, 2 blocks, %d targets, checkpointing %s): "
		       "loss %.6f, rel err %.3g; prompt_embeddings gradient vs PEFT: relative error "
		       "%.3g\n", P, nt, ckpt ? "on" : "off", sum / nt, lerr, ge);
		llama_train_ws_free(ws);
	}
	free(ids), free(pos), free(seg), free(tgt), free(g), free(tab), free(want);
	free(ad), free(gd), free(pk), free(gt);
	pack_close(&pf);
	llama_free(&m);
	model_dir_close(&md);
	return test_main_end();
}
