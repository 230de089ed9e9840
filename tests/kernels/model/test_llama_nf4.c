/* qlora-tools: ISC license. */
/*
 * The engine on NF4 weights (tests/ref/llama_smollm2_golden.py, tests/ref/lora.py): llama_load
 * keeps bitsandbytes' NF4 files as codes, and the forward (full, cached decode, packed) equals
 * transformers' fp32 logits on the same dequantized weights; with a PEFT adapter unmerged it
 * equals PEFT's merge into the dequantized base.
 */
#include "kernels/model/llama.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "common/le.h"
#include "formats/adapter.h"
#include "jobs/llama_load.h"
#include "test.h"

static double rel_err(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		num = d > num ? d : num;
		den = fabs(b[i]) > den ? fabs(b[i]) : den;
	}
	return den > 0 ? num / den : num;
}

static double worst;

/* Every prompt of a QTLOGIT1 golden through m (+ lora): full forward, decode, packed. */
static void check(const struct llama_model *m, const struct adapter *lora, const char *golden,
                  const char *what)
{
	struct qt_err err = { 0 };
	struct qt_map g;
	if (qt_map_file(golden, &g, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		return;
	}
	const uint8_t *p = g.data + 8;
	uint32_t n = le32_load(p), V = le32_load(p + 4);
	p += 8;
	CHECK(V == (uint32_t)m->cfg.V, "%s: vocab %u", what, V);
	for (uint32_t k = 0; k < n && V == (uint32_t)m->cfg.V; k++) {
		int T = (int)le32_load(p);
		p += 4;
		int32_t *ids = malloc((size_t)T * 4), *pos = malloc((size_t)T * 4);
		for (int t = 0; t < T; t++)
			ids[t] = (int32_t)le32_load(p + 4 * (size_t)t), pos[t] = t;
		p += 4 * (size_t)T;
		float *want = malloc((size_t)T * V * 4), *got = malloc((size_t)T * V * 4);
		for (size_t i = 0; i < (size_t)T * V; i++)
			want[i] = lef32_load(p + 4 * i);
		p += 4 * (size_t)T * V;
		CHECK(llama_forward(m, ADAPTER_TABLE(lora), ids, pos, NULL, T, got, &err) == QT_OK,
		      "%s", err.msg);
		double e = rel_err(got, want, (size_t)T * V);
		printf("%s prompt %u (T=%d): forward max rel err %.3g\n", what, k, T, e);
		CHECK(e <= 1e-4, "%s prompt %u: rel err %.3g", what, k, e);
		worst = e > worst ? e : worst;

		/* cached decoding: the prompt in two halves, then one token at a time */
		struct llama_cache c;
		float *row = malloc(V * 4);
		CHECK(llama_cache_init(&c, m, 1, T, &err) == QT_OK, "cache");
		int pre = T / 2 > 0 ? T / 2 : 1;
		CHECK(llama_decode(m, ADAPTER_TABLE(lora), &c, ids, 1, pre, row, &err) == QT_OK,
		      "%s", err.msg);
		double ed = rel_err(row, want + (size_t)(pre - 1) * V, V);
		for (int t = pre; t < T; t++) {
			CHECK(llama_decode(m, ADAPTER_TABLE(lora), &c, ids + t, 1, 1, row, &err) == QT_OK,
			      "%s", err.msg);
			double e1 = rel_err(row, want + (size_t)t * V, V);
			ed = e1 > ed ? e1 : ed;
		}
		CHECK(ed <= 1e-4, "%s prompt %u: decode rel err %.3g", what, k, ed);
		llama_cache_free(&c);

		/* packed: the prompt twice in one sequence, as two segments */
		int TT = 2 * T;
		int32_t *pi = malloc((size_t)TT * 4), *pp = malloc((size_t)TT * 4),
		        *ps = malloc((size_t)TT * 4);
		for (int t = 0; t < TT; t++)
			pi[t] = ids[t % T], pp[t] = t % T, ps[t] = t >= T;
		float *pl = malloc((size_t)TT * V * 4);
		CHECK(llama_forward(m, ADAPTER_TABLE(lora), pi, pp, ps, TT, pl, &err) == QT_OK,
		      "%s", err.msg);
		double e2 = rel_err(pl + (size_t)T * V, got, (size_t)T * V);
		CHECK(e2 <= 1e-5, "%s prompt %u: packed second segment rel err %.3g", what, k, e2);
		free(pi), free(pp), free(ps), free(pl), free(row);
		free(ids), free(pos), free(want), free(got);
	}
	qt_unmap(&g);
}

int main(void)
{
	char *lora_dir = qt_path_join(test_srcdir(), "data/lora");
	char base[1200], golden[1200], adir[1200];
	snprintf(base, sizeof base, "%s/base-nf4", lora_dir);
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	int st = model_dir_open(&md, base, MODEL_DIR_NO_TOKENIZER, &err);
	CHECK(st == QT_OK, "open %s: %s", base, err.msg);
	if (st == QT_OK && (st = llama_load(&m, &md, &err)) != QT_OK)
		CHECK(0, "load: %s", err.msg);
	model_dir_close(&md);  /* the model must not depend on the mapping */
	if (st != QT_OK) {
		free(lora_dir);
		return test_main_end();
	}
	/* every linear layer stayed NF4 (quant_state dtype float32: no cast) */
	int n_nf4 = 0;
	for (int l = 0; l < m.cfg.n_layer; l++)
		for (int k = 0; k < LLAMA_N_MODULES; k++)
			n_nf4 += m.layers[l].lin[k].w == NULL && m.layers[l].lin[k].nf4 != NULL &&
			         m.layers[l].lin[k].deq_dtype == QT_DTYPE_F32;
	CHECK(n_nf4 == m.cfg.n_layer * LLAMA_N_MODULES, "NF4 layers: %d", n_nf4);
	CHECK(m.lm_head.w != NULL, "lm_head kept dense");

	char *g = qt_path_join(test_srcdir(), "data/llama_nf4/tiny-nf4.logits.bin");
	check(&m, NULL, g, "base-nf4");
	free(g);

	snprintf(adir, sizeof adir, "%s/peft-r8", lora_dir);
	snprintf(golden, sizeof golden, "%s/merged-nf4-r8.logits.bin", lora_dir);
	struct adapter a;
	struct adapter_dims dims = llama_adapter_dims(&m.cfg);
	if (adapter_load(&a, adir, &dims, &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
	} else {
		check(&m, &a, golden, "base-nf4 + peft-r8 (unmerged) vs merged");
		adapter_free(&a);
	}
	printf("NF4 tiny: worst forward rel err %.3g\n", worst);
	llama_free(&m);
	free(lora_dir);
	return test_main_end();
}
