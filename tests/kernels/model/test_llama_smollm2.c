/* qlora-tools: ISC license. */
/*
 * The engine on the default model ($QT_MODEL_DIR, SmolLM2-135M-Instruct) against transformers
 * fp32 (tests/ref/llama_smollm2_golden.py: slices of the logits of 4 ChatML and 2 raw prompts,
 * Chinese and English): the bf16 weights widened to f32, and the same model quantized by
 * quantize-nf4 (nf4_quantize_dir here) against transformers on bitsandbytes' dequantization of
 * that directory. Relative error = max |ours - theirs| over the stored logits / max |logit| of
 * the whole rows. The prompts run packed into one sequence (one segment each); in f32 each
 * also runs alone (equal to its segment), and cached decoding equals the full forward.
 * Skips when the model is absent.
 */
#include "kernels/model/llama.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/io.h"
#include "common/le.h"
#include "formats/nf4.h"
#include "jobs/llama_load.h"
#include "jobs/quantize_nf4.h"
#include "logits_golden.h"
#include "test.h"

/*
 * All prompts of the golden packed into one sequence (one segment each, positions restarting):
 * each segment against transformers. With `alone`, each prompt is also run by itself and must
 * equal its segment, and the first prompt is decoded with the KV cache.
 */
static double check_model(const struct llama_model *m, const char *golden_path, const char *what,
                          int alone)
{
	struct logits_golden g;
	struct qt_err err = { 0 };
	if (logits_golden_open(&g, golden_path))
		return -1;
	CHECK(g.V == (uint32_t)m->cfg.V, "%s: vocab %u", golden_path, g.V);
	if (g.V != (uint32_t)m->cfg.V) {
		logits_golden_close(&g);
		return -1;
	}
	int TT = 0, off[LOGITS_GOLDEN_MAX_PROMPTS + 1];
	for (uint32_t k = 0; k < g.n; k++) {
		off[k] = TT;
		TT += g.T[k];
	}
	off[g.n] = TT;
	int32_t *ids = malloc((size_t)TT * 4), *pos = malloc((size_t)TT * 4),
	        *seg = malloc((size_t)TT * 4);
	for (uint32_t k = 0; k < g.n; k++)
		for (int t = 0; t < off[k + 1] - off[k]; t++) {
			ids[off[k] + t] = logits_golden_id(&g, k, t);
			pos[off[k] + t] = t;
			seg[off[k] + t] = (int32_t)k;
		}
	float *got = malloc((size_t)TT * g.V * 4);
	CHECK(llama_forward(m, NULL, ids, pos, seg, TT, got, &err) == QT_OK, "%s", err.msg);
	double worst = 0;
	for (uint32_t k = 0; k < g.n; k++) {
		int T = g.T[k], am;
		const float *mine = got + (size_t)off[k] * g.V;
		double abs_err, e = logits_golden_err(&g, k, mine, &abs_err, &am);
		printf("%s prompt %u (T=%d, packed with the others): max abs err %.3g, max rel err %.3g\n",
		       what, k, T, abs_err, e);
		CHECK(e <= 1e-4, "%s prompt %u: rel err %.3g", what, k, e);
		CHECK(am, "%s prompt %u: argmax differs", what, k);
		worst = e > worst ? e : worst;
		if (!alone)
			continue;
		float *one = malloc((size_t)T * g.V * 4);
		CHECK(llama_forward(m, NULL, ids + off[k], pos + off[k], NULL, T, one, &err) == QT_OK,
		      "%s", err.msg);
		double num = 0, den = 0;
		for (size_t i = 0; i < (size_t)T * g.V; i++) {
			double d = fabs((double)one[i] - mine[i]);
			num = d > num ? d : num;
			den = fabs(one[i]) > den ? fabs(one[i]) : den;
		}
		printf("%s prompt %u: alone vs packed rel err %.3g\n", what, k, num / den);
		CHECK(num / den <= 1e-5, "%s prompt %u: alone vs packed %.3g", what, k, num / den);
		if (k == 0) {  /* cached decode: all but the last token, then the last */
			struct llama_cache c;
			float *row = malloc(g.V * 4);
			CHECK(llama_cache_init(&c, m, 1, T, &err) == QT_OK, "cache");
			CHECK(llama_decode(m, NULL, &c, ids, 1, T - 1, row, &err) == QT_OK, "%s", err.msg);
			CHECK(llama_decode(m, NULL, &c, ids + T - 1, 1, 1, row, &err) == QT_OK, "%s",
			      err.msg);
			num = den = 0;
			for (uint32_t v = 0; v < g.V; v++) {
				double ref = one[(size_t)(T - 1) * g.V + v], d = fabs(row[v] - ref);
				num = d > num ? d : num;
				den = fabs(ref) > den ? fabs(ref) : den;
			}
			printf("%s: cached decode vs forward rel err %.3g\n", what, num / den);
			CHECK(num / den <= 1e-5, "%s: decode rel err %.3g", what, num / den);
			llama_cache_free(&c);
			free(row);
		}
		free(one);
	}
	free(ids), free(pos), free(seg), free(got);
	logits_golden_close(&g);
	return worst;
}

static int load(const char *dir, struct llama_model *m)
{
	struct qt_err err = { 0 };
	struct model_dir md;
	int st = model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err);
	if (st == QT_OK)
		st = llama_load(m, &md, &err);
	CHECK(st == QT_OK, "%s: %s", dir, err.msg);
	model_dir_close(&md);
	return st;
}

int main(void)
{
	const char *dir = getenv("QT_MODEL_DIR");
	struct stat sb;
	if (!dir || !*dir || stat(dir, &sb) != 0) {
		SKIP("QT_MODEL_DIR unset or missing: no default-model logits check");
		return test_main_end();
	}
	char *g1 = qt_path_join(test_srcdir(), "data/llama_smollm2/logits.bin");
	char *g2 = qt_path_join(test_srcdir(), "data/llama_smollm2/logits-nf4.bin");
	struct llama_model m;
	if (load(dir, &m) == QT_OK) {
		m.n_threads = 2;
		double e = check_model(&m, g1, "SmolLM2 f32", 1);
		printf("SmolLM2-135M-Instruct fp32 vs transformers: worst rel err %.3g\n", e);
		llama_free(&m);
	}
	char tmpl[] = "/tmp/qt_smollm2_nf4.XXXXXX";
	char *tmp = mkdtemp(tmpl);
	CHECK(tmp != NULL, "mkdtemp");
	if (tmp) {
		char out[1100];
		snprintf(out, sizeof out, "%s/nf4", tmp);
		struct nf4_quantize_opts o = { .in_dir = dir, .out_dir = out, .blocksize = 64,
		                               .double_quant = 1, .n_threads = 2 };
		struct nf4_summary sum = { 0 };
		struct qt_err err = { 0 };
		int st = nf4_quantize_dir(&o, &sum, &err);
		CHECK(st == QT_OK, "quantize: %s", err.msg);
		free(sum.layers);
		if (st == QT_OK && load(out, &m) == QT_OK) {
			int n_nf4 = 0;
			for (int l = 0; l < m.cfg.n_layer; l++)
				for (int k = 0; k < LLAMA_N_MODULES; k++)
					n_nf4 += !m.layers[l].lin[k].w &&
					         m.layers[l].lin[k].deq_dtype == QT_DTYPE_BF16;
			CHECK(n_nf4 == m.cfg.n_layer * LLAMA_N_MODULES, "NF4 (bf16) layers %d", n_nf4);
			m.n_threads = 2;
			double e = check_model(&m, g2, "SmolLM2 NF4", 0);
			printf("SmolLM2-135M-Instruct NF4 vs transformers (dequantized): worst rel err %.3g\n",
			       e);
			llama_free(&m);
		}
		char cmd[1200];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
		CHECK(system(cmd) == 0, "cleanup");
	}
	free(g1);
	free(g2);
	return test_main_end();
}
