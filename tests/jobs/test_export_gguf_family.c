/* qlora-tools: ISC license. */
/*
 * export-gguf's families beside Llama against llama.cpp (issue 19): for each tiny model of
 * tests/data/export/family (qwen2, qwen3, gemma, gemma2, phi3, glm, glm4;
 * tests/ref/export_family_models.py), llama.cpp ran on our F32 GGUF of it
 * (tests/ref/export_family_llamacpp.py, llama-cpp-python 0.3.36 built from source, F32 KV
 * cache, no flash attention) and recorded
 *   - NAME.llamacpp.logits.bin: every logit of three prompts (4, 13 and 29 tokens); our
 *     engine's forward on the model directory must be within TOL of the row's max |logit|
 *     (1e-4; gemma and gemma2 3e-3, see below) with the same argmax at every position;
 *   - NAME.llamacpp.greedy.txt: the 24 ids llama.cpp's greedy decoding adds to each prompt
 *     through its cache; ours (argmax of our forward over the growing sequence) must be the same.
 * llama.cpp's CPU backend computes GELU (gemma's GeGLU) through a table of half-precision
 * inputs and outputs (ggml-cpu vec.h GGML_GELU_FP16), so its gemma logits carry that rounding:
 * the tolerance for those two families says so rather than hides it.
 * And the files: export-gguf of each model (through a link named "tiny", as the script) at every
 * --type must be the very file llama.cpp ran (f32) or whose tensors the script found
 * byte-identical to llama_model_quantize's (family/gguf-reader.txt).
 */
#include "jobs/export_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "gguf_reader_golden.h"
#include "jobs/llama_load.h"
#include "kernels/model/llama.h"
#include "logits_golden.h"
#include "test.h"

static const struct { const char *name; double tol; } families[] = {
	{ "qwen2", 1e-4 }, { "qwen3", 1e-4 }, { "gemma", 3e-3 }, { "gemma2", 3e-3 },
	{ "phi3", 1e-4 },  { "glm", 1e-4 },   { "glm4", 1e-4 },
};

#define MAX_NEW 24

static int argmax_row(const float *x, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		b = x[i] > x[b] ? i : b;
	return b;
}

/* Our greedy continuation of prompt k (full forward per step) against llama.cpp's line. */
static int check_greedy(const struct llama_model *m, const struct logits_golden *g, uint32_t k,
                        const char *line)
{
	int T = g->T[k], V = m->cfg.V, same = 1;
	int32_t *ids = malloc((size_t)(T + MAX_NEW) * 4), *pos = malloc((size_t)(T + MAX_NEW) * 4);
	float *lg = malloc((size_t)(T + MAX_NEW) * (size_t)V * 4);
	struct qt_err err = { 0 };
	for (int t = 0; t < T; t++)
		ids[t] = logits_golden_id(g, k, t);
	for (int t = 0; t < T + MAX_NEW; t++)
		pos[t] = t;
	const char *p = line;
	for (int n = 0; n < MAX_NEW && same; n++) {
		if (llama_forward(m, NULL, ids, pos, NULL, T + n, lg, &err) != QT_OK) {
			CHECK(0, "%s", err.msg);
			same = 0;
			break;
		}
		ids[T + n] = argmax_row(lg + (size_t)(T + n - 1) * V, V);
		char *end;
		long want = strtol(p, &end, 10);
		same = end != p && want == ids[T + n];
		p = end;
	}
	free(ids), free(pos), free(lg);
	return same;
}

static void check_family(const char *name, double tol)
{
	char rel[128];
	snprintf(rel, sizeof rel, "data/export/family/%s", name);
	char *dir = qt_path_join(test_srcdir(), rel);
	snprintf(rel, sizeof rel, "data/export/family/%s.llamacpp.logits.bin", name);
	char *lpath = qt_path_join(test_srcdir(), rel);
	snprintf(rel, sizeof rel, "data/export/family/%s.llamacpp.greedy.txt", name);
	char *gpath = qt_path_join(test_srcdir(), rel);
	struct logits_golden g;
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	char *greedy = NULL;
	size_t glen;
	int st = logits_golden_open(&g, lpath) ? QT_EDATA : QT_OK;
	if (st == QT_OK && (st = qt_read_file(gpath, &greedy, &glen, &err)) != QT_OK)
		CHECK(0, "%s", err.msg);
	if (st == QT_OK && (st = model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err)) == QT_OK) {
		st = llama_load(&m, &md, &err);
		model_dir_close(&md);
		CHECK(st == QT_OK, "%s: %s", dir, err.msg);
	}
	if (st == QT_OK) {
		m.n_threads = 2;
		double worst = 0, worst_abs = 0;
		int greedy_same = 0;
		const char *line = greedy;
		CHECK(g.V == (uint32_t)m.cfg.V, "%s: vocab %u, model %d", lpath, g.V, m.cfg.V);
		for (uint32_t k = 0; k < g.n && g.V == (uint32_t)m.cfg.V; k++) {
			int T = g.T[k], am;
			int32_t *ids = malloc((size_t)T * 4), *pos = malloc((size_t)T * 4);
			float *got = malloc((size_t)T * g.V * 4);
			for (int t = 0; t < T; t++)
				ids[t] = logits_golden_id(&g, k, t), pos[t] = t;
			st = llama_forward(&m, NULL, ids, pos, NULL, T, got, &err);
			CHECK(st == QT_OK, "%s", err.msg);
			if (st == QT_OK) {
				double abs_err, e = logits_golden_err(&g, k, got, &abs_err, &am);
				CHECK(e <= tol, "%s prompt %u (T=%d): rel err %.3g vs llama.cpp (limit %g)",
				      name, k, T, e, tol);
				CHECK(am, "%s prompt %u: argmax differs from llama.cpp's", name, k);
				worst = e > worst ? e : worst;
				worst_abs = abs_err > worst_abs ? abs_err : worst_abs;
			}
			free(ids), free(pos), free(got);
			int same = line && check_greedy(&m, &g, k, line);
			CHECK(same, "%s prompt %u: greedy ids differ from llama.cpp's", name, k);
			greedy_same += same;
			line = line ? strchr(line, '\n') : NULL;
			line = line ? line + 1 : NULL;
		}
		printf("%-6s: ours vs llama.cpp on our F32 GGUF: max abs err %.3g, max rel err %.3g "
		       "(limit %g), greedy %d of %u prompts identical (24 ids each)\n", name,
		       worst_abs, worst, tol, greedy_same, g.n);
		llama_free(&m);
	}
	if (g.map.data)
		logits_golden_close(&g);
	free(greedy), free(dir), free(lpath), free(gpath);
}

/* Every --type of the model against family/gguf-reader.txt. */
static void check_files(const char *name)
{
	char rel[128];
	snprintf(rel, sizeof rel, "data/export/family/%s", name);
	char *dir = qt_path_join(test_srcdir(), rel);
	unlink("tiny");
	CHECK(symlink(dir, "tiny") == 0, "symlink tiny -> %s", dir);
	int same = 0;
	for (int ty = EXPORT_GGUF_F32; ty < EXPORT_GGUF_N_TYPES; ty++) {
		const char *tn = export_gguf_type_names[ty];
		struct export_gguf_opts o = { .model_dir = "tiny", .output = "f.gguf", .type = ty,
		                              .n_threads = 2 };
		struct qt_err err = { 0 };
		int st = export_gguf_run(&o, NULL, &err);
		CHECK(st == QT_OK, "export %s %s: %s", name, tn, err.msg);
		same += st == QT_OK &&
		        gguf_reader_check_in("data/export/family/gguf-reader.txt", name, tn, "f.gguf");
		unlink("f.gguf");
	}
	printf("%-6s: %d of %d types the file llama.cpp ran (f32) or quantized alike\n", name, same,
	       EXPORT_GGUF_N_TYPES);
	unlink("tiny");
	free(dir);
}

int main(void)
{
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
		check_family(families[i].name, families[i].tol);
	test_in_tmpdir();
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
		check_files(families[i].name);
	return test_main_end();
}
