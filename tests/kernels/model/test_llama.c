/* qlora-tools: ISC license. */
/*
 * The composed Llama forward against transformers' fp32 logits (tests/ref/llama_golden.py) on
 * tiny random models (tied; untied with llama3 RoPE; linear RoPE): full forward, cached
 * decoding token by token, and a packed sequence equal to its samples run alone.
 */
#include "kernels/model/llama.h"

#include <math.h>

#include "common/io.h"
#include "common/le.h"
#include "jobs/llama_load.h"
#include "test.h"

/* max |a - b| / max |b| over n values */
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

static void check_model(const char *name)
{
	char dir[1024], path[1100];
	snprintf(dir, sizeof dir, "%s/data/llama/%s", test_srcdir(), name);
	snprintf(path, sizeof path, "%s.logits.bin", dir);
	struct qt_err err = { 0 };
	struct model_dir md;
	int st = model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err);
	CHECK(st == QT_OK, "%s: %s", name, err.msg);
	if (st != QT_OK)
		return;
	struct llama_model m;
	st = llama_load(&m, &md, &err);
	CHECK(st == QT_OK, "%s: load: %s", name, err.msg);
	if (st != QT_OK) {
		model_dir_close(&md);
		return;
	}
	struct qt_map g;
	CHECK(qt_map_file(path, &g, &err) == QT_OK, "%s", err.msg);
	const uint8_t *p = g.data + 8;
	uint32_t n_prompts = le32_load(p), V = le32_load(p + 4);
	p += 8;
	CHECK(V == (uint32_t)m.cfg.V, "vocab");
	int32_t *prev_ids = NULL;
	float *prev_logits = NULL;
	int prev_T = 0;
	for (uint32_t k = 0; k < n_prompts; k++) {
		int T = (int)le32_load(p);
		p += 4;
		int32_t *ids = malloc((size_t)T * sizeof *ids), *pos = malloc((size_t)T * sizeof *pos);
		for (int t = 0; t < T; t++) {
			ids[t] = (int32_t)le32_load(p + 4 * (size_t)t);
			pos[t] = t;
		}
		p += 4 * (size_t)T;
		float *want = malloc((size_t)T * V * sizeof *want);
		for (size_t i = 0; i < (size_t)T * V; i++)
			want[i] = lef32_load(p + 4 * i);
		p += 4 * (size_t)T * V;

		float *got = malloc((size_t)T * V * sizeof *got);
		CHECK(llama_forward(&m, NULL, ids, pos, NULL, T, got, &err) == QT_OK, "%s", err.msg);
		double e = rel_err(got, want, (size_t)T * V);
		CHECK(e <= 1e-4, "%s prompt %u (T=%d): forward rel err %.3g", name, k, T, e);
		printf("%s T=%d forward rel err %.3g\n", name, T, e);

		/* Decoding: prefill half, then one token at a time; each step's logits = row t. */
		struct llama_cache c;
		CHECK(llama_cache_init(&c, &m, 1, T, &err) == QT_OK, "cache");
		int pre = T / 2 > 0 ? T / 2 : 1;
		float *row = malloc(V * sizeof *row);
		llama_decode(&m, NULL, &c, ids, 1, pre, row, &err);
		double ed = rel_err(row, want + (size_t)(pre - 1) * V, V);
		for (int t = pre; t < T; t++) {
			llama_decode(&m, NULL, &c, ids + t, 1, 1, row, &err);
			double e1 = rel_err(row, want + (size_t)t * V, V);
			ed = e1 > ed ? e1 : ed;
		}
		CHECK(ed <= 1e-4, "%s prompt %u: decode rel err %.3g", name, k, ed);
		llama_cache_free(&c);
		free(row);

		/* Packed: previous prompt and this one in one sequence with segments. */
		if (prev_ids) {
			int TT = prev_T + T;
			int32_t *pids = malloc((size_t)TT * 4), *ppos = malloc((size_t)TT * 4),
			        *pseg = malloc((size_t)TT * 4);
			for (int t = 0; t < TT; t++) {
				int second = t >= prev_T;
				pids[t] = second ? ids[t - prev_T] : prev_ids[t];
				ppos[t] = second ? t - prev_T : t;
				pseg[t] = second;
			}
			float *pl = malloc((size_t)TT * V * sizeof *pl);
			llama_forward(&m, NULL, pids, ppos, pseg, TT, pl, &err);
			double e1 = rel_err(pl, prev_logits, (size_t)prev_T * V);
			double e2 = rel_err(pl + (size_t)prev_T * V, got, (size_t)T * V);
			CHECK(e1 <= 1e-5 && e2 <= 1e-5, "%s packed: rel err %.3g %.3g", name, e1, e2);
			free(pids); free(ppos); free(pseg); free(pl);
		}
		free(prev_ids);
		free(prev_logits);
		prev_ids = ids;
		prev_logits = got;
		prev_T = T;
		free(pos);
		free(want);
	}
	free(prev_ids);
	free(prev_logits);
	qt_unmap(&g);
	llama_free(&m);
	model_dir_close(&md);
}

int main(void)
{
	check_model("tiny");
	check_model("tiny-untied-llama3");
	check_model("tiny-linear-rope");
	return test_main_end();
}
