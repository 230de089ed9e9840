/* qlora-tools: ISC license. */
/*
 * A bf16 vocabulary (llama_model.embed_b, lm_head.wb without w: jobs/llama_load.h's
 * LLAMA_LOAD_BF16_VOCAB) gives the results of the same values as f32, bit for bit: on the tiny
 * models (tied, and the untied NF4 base), whose f32 tables are first rounded to bf16, the
 * training block's loss, token accuracy and every LoRA gradient (with checkpointing), and
 * llama_forward's logits over few rows (matrix-vector) and many (tiled SGEMM). And on the
 * default model (BF16 in its file), llama_load_opts keeps exactly the file's bits.
 */
#include <stdlib.h>
#include <string.h>

#include "common/half.h"
#include "common/rng.h"
#include "jobs/llama_load.h"
#include "kernels/model/llama_train.h"
#include "model_check.h"
#include "test.h"

enum { T = 40 };

/* W rounded to bf16 in place; its bits into a new array. */
static uint16_t *to_bf16(float *W, size_t n)
{
	uint16_t *b = malloc(n * sizeof *b);
	for (size_t i = 0; i < n; i++) {
		b[i] = qt_f32_to_bf16(W[i]);
		W[i] = qt_bf16_to_f32(b[i]);
	}
	return b;
}

static void one(const char *name)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/data/%s", test_srcdir(), name);
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	if (model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) != QT_OK ||
	    llama_load(&m, &md, &err) != QT_OK) {
		CHECK(0, "%s: %s", dir, err.msg);
		return;
	}
	const struct llama_config *c = &m.cfg;
	size_t n = (size_t)c->V * c->C;
	int tied = m.lm_head.w == m.embed;
	struct llama_model b = m; /* the same model with the tables as bf16 bits */
	uint16_t *eb = to_bf16((float *)m.embed, n);
	uint16_t *hb = tied ? eb : to_bf16((float *)m.lm_head.w, n);
	b.embed = NULL;
	b.embed_b = eb;
	b.lm_head.w = NULL;
	b.lm_head.wb = hb;
	CHECK(llama_backend_check(&b, NULL, &qt_backend_cpu, &err) == QT_OK, "%s", err.msg);

	struct qt_rng r;
	qt_rng_seed(&r, 11);
	int32_t ids[T], pos[T], seg[T], tgt[T];
	int nt = 0;
	for (int t = 0; t < T; t++) {
		ids[t] = (int32_t)qt_rng_below(&r, (uint64_t)c->V);
		seg[t] = t < 15 ? 1 : 2;
		pos[t] = t < 15 ? t : t - 15;
	}
	for (int t = 0; t < T; t++) {
		tgt[t] = t + 1 < T && t % 4 != 0 ? ids[t + 1] : -1;
		nt += tgt[t] >= 0;
	}
	struct adapter a, g1, g2;
	make_lora(&a, &m, &r);
	make_lora(&g1, &m, NULL);
	make_lora(&g2, &m, NULL);
	struct llama_train_ws *ws = llama_train_ws_new(&m, T, 4, 1);
	double l1 = 0, l2 = 0;
	CHECK(llama_train_block(&m, ADAPTER_TABLE(&a), ADAPTER_TABLE(&g1), ws, ids, pos, seg, tgt, T,
	                        1.0f / nt, 0, 0, NULL, &l1, &err) == QT_OK, "%s", err.msg);
	long k1 = llama_train_correct(&m, ws, T);
	CHECK(llama_train_block(&b, ADAPTER_TABLE(&a), ADAPTER_TABLE(&g2), ws, ids, pos, seg, tgt, T,
	                        1.0f / nt, 0, 0, NULL, &l2, &err) == QT_OK, "%s", err.msg);
	long k2 = llama_train_correct(&b, ws, T);
	CHECK(l1 == l2 && k1 == k2 && same_grads(&g1, &g2), "%s: bf16 vocabulary: loss %.9g vs "
	      "%.9g, correct %ld vs %ld, or gradients differ", name, l2, l1, k2, k1);
	float *x1 = malloc((size_t)T * c->V * sizeof *x1), *x2 = malloc((size_t)T * c->V * sizeof *x2);
	int rows[] = { 3, T }; /* the matrix-vector path and the SGEMM path */
	for (int i = 0; i < 2; i++) {
		CHECK(llama_forward(&m, ADAPTER_TABLE(&a), ids, pos, seg, rows[i], x1, &err) == QT_OK &&
		      llama_forward(&b, ADAPTER_TABLE(&a), ids, pos, seg, rows[i], x2, &err) == QT_OK,
		      "%s", err.msg);
		CHECK(memcmp(x1, x2, (size_t)rows[i] * c->V * sizeof *x1) == 0,
		      "%s: bf16 vocabulary: logits of %d rows differ", name, rows[i]);
	}
	printf("%s (%s): bf16 vocabulary = f32 bit for bit (loss %.6f, %ld correct, gradients, "
	       "logits)\n", name, tied ? "tied" : "untied", l1, k1);
	free(x1);
	free(x2);
	llama_train_ws_free(ws);
	adapter_free(&a);
	adapter_free(&g1);
	adapter_free(&g2);
	free(eb);
	if (!tied)
		free(hb);
	llama_free(&m);
	model_dir_close(&md);
}

/* The default model's BF16 tables, loaded as bits, are the file's. */
static void loader(void)
{
	const char *dir = getenv("QT_MODEL_DIR");
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model f, b;
	if (!dir || model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err) != QT_OK) {
		printf("skip: no default model (QT_MODEL_DIR)\n");
		return;
	}
	CHECK(llama_load(&f, &md, &err) == QT_OK, "%s", err.msg);
	CHECK(llama_load_opts(&b, &md, LLAMA_LOAD_BF16_VOCAB, &err) == QT_OK, "%s", err.msg);
	size_t n = (size_t)f.cfg.V * f.cfg.C, bad = 0;
	CHECK(b.embed_b && !b.embed && b.lm_head.wb && !b.lm_head.w, "%s: not loaded as bf16", dir);
	for (size_t i = 0; b.embed_b && i < n; i++)
		bad += qt_bf16_to_f32(b.embed_b[i]) != f.embed[i];
	CHECK(bad == 0, "%s: %zu bf16 values differ from the f32 load", dir, bad);
	printf("%s: %zu bf16 embedding values = the f32 load's\n", dir, n);
	llama_free(&f);
	llama_free(&b);
	model_dir_close(&md);
}

int main(void)
{
	one("llama/tiny");
	one("lora/base-nf4");
	loader();
	return test_main_end();
}
