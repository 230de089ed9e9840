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
 * the tolerance for those two families says so rather than hides it; and the same llama.cpp
 * with that GELU in float32 (NAME.llamacpp-f32gelu.*, how to build it in the script) is held
 * to 1e-4 like the others.
 * With a LoRA adapter (NAME-lora, PEFT's, all linear modules of the family, phi3's and glm's
 * fused ones too): llama.cpp ran our F32 GGUF with our LoRA GGUF of it applied
 * (NAME.llamacpp-lora.*); our forward with the adapter unmerged is held to the same limits.
 * And the files: export-gguf of each model (through a link named "tiny", as the script) at every
 * --type must be the very file llama.cpp ran (f32) or whose tensors the script found
 * byte-identical to llama_model_quantize's (family/gguf-reader.txt).
 * Round trip: import-gguf of our F32 file gives every tensor of the directory back with the
 * same name, shape and bits (gemma's and gemma2's norms, stored as 1 + w, within an ulp of
 * 1 + w: (1 + w) - 1 is not always w), and a configuration whose forward gives the same
 * logits (within 1e-6 of the row's max |logit|).
 */
#include "jobs/export_gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "formats/adapter.h"
#include "formats/safetensors.h"
#include "gguf_reader_golden.h"
#include "jobs/import_gguf.h"
#include "jobs/llama_load.h"
#include "kernels/model/llama.h"
#include "logits_golden.h"
#include "test.h"

/* name, the goldens' suffix, the limit (NAME-lora applied when the suffix says lora) */
static const struct { const char *name, *ref; double tol; } goldens[] = {
	{ "qwen2", "llamacpp", 1e-4 },           { "qwen2", "llamacpp-lora", 1e-4 },
	{ "qwen3", "llamacpp", 1e-4 },           { "qwen3", "llamacpp-lora", 1e-4 },
	{ "gemma", "llamacpp", 3e-3 },           { "gemma", "llamacpp-lora", 3e-3 },
	{ "gemma", "llamacpp-f32gelu", 1e-4 },   { "gemma", "llamacpp-lora-f32gelu", 1e-4 },
	{ "gemma2", "llamacpp", 3e-3 },          { "gemma2", "llamacpp-lora", 3e-3 },
	{ "gemma2", "llamacpp-f32gelu", 1e-4 },  { "gemma2", "llamacpp-lora-f32gelu", 1e-4 },
	{ "phi3", "llamacpp", 1e-4 },            { "phi3", "llamacpp-lora", 1e-4 },
	{ "glm", "llamacpp", 1e-4 },             { "glm", "llamacpp-lora", 1e-4 },
	{ "glm4", "llamacpp", 1e-4 },            { "glm4", "llamacpp-lora", 1e-4 },
};
static const char *const families[] = { "qwen2", "qwen3", "gemma", "gemma2", "phi3", "glm",
                                        "glm4" };

#define MAX_NEW 24

static int argmax_row(const float *x, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		b = x[i] > x[b] ? i : b;
	return b;
}

/* Our greedy continuation of prompt k (full forward per step) against llama.cpp's line. */
static int check_greedy(const struct llama_model *m, const struct lora_table *lora,
                        const struct logits_golden *g, uint32_t k, const char *line)
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
		if (llama_forward(m, lora, ids, pos, NULL, T + n, lg, &err) != QT_OK) {
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

static void check_family(const char *name, const char *ref, double tol)
{
	char rel[128];
	snprintf(rel, sizeof rel, "data/export/family/%s", name);
	char *dir = qt_path_join(test_srcdir(), rel);
	snprintf(rel, sizeof rel, "data/export/family/%s.%s.logits.bin", name, ref);
	char *lpath = qt_path_join(test_srcdir(), rel);
	snprintf(rel, sizeof rel, "data/export/family/%s.%s.greedy.txt", name, ref);
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
	if (st == QT_OK) {
		if ((st = model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err)) == QT_OK) {
			st = llama_load(&m, &md, &err);
			model_dir_close(&md);
		}
		CHECK(st == QT_OK, "%s: %s", dir, err.msg);
	}
	struct adapter ad;
	struct lora_table lt, *lora = NULL;
	if (st == QT_OK && strstr(ref, "lora")) {
		snprintf(rel, sizeof rel, "data/export/family/%s-lora", name);
		char *adir = qt_path_join(test_srcdir(), rel);
		struct adapter_dims dims = llama_adapter_dims(&m.cfg);
		st = adapter_load(&ad, adir, &dims, &err);
		CHECK(st == QT_OK, "%s: %s", adir, err.msg);
		lora = st == QT_OK ? adapter_table(&ad, &lt) : NULL;
		free(adir);
		if (st != QT_OK)
			llama_free(&m);
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
			st = llama_forward(&m, lora, ids, pos, NULL, T, got, &err);
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
			int same = line && check_greedy(&m, lora, &g, k, line);
			CHECK(same, "%s prompt %u: greedy ids differ from llama.cpp's", name, k);
			greedy_same += same;
			line = line ? strchr(line, '\n') : NULL;
			line = line ? line + 1 : NULL;
		}
		printf("%-6s: ours vs %s on our F32 GGUF: max abs err %.3g, max rel err %.3g "
		       "(limit %g), greedy %d of %u prompts identical (24 ids each)\n", name, ref,
		       worst_abs, worst, tol, greedy_same, g.n);
		llama_free(&m);
		if (lora)
			adapter_free(&ad);
	}
	if (g.map.data)
		logits_golden_close(&g);
	free(greedy), free(dir), free(lpath), free(gpath);
}

/* Logits of ids (T tokens) by the model in dir into out (T x V); V returned, 0 on failure. */
static int dir_logits(const char *dir, const int32_t *ids, int T, float **out)
{
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	int st = model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err);
	if (st == QT_OK) {
		st = llama_load(&m, &md, &err);
		model_dir_close(&md);
	}
	CHECK(st == QT_OK, "%s: %s", dir, err.msg);
	if (st != QT_OK)
		return 0;
	int32_t pos[64];
	for (int t = 0; t < T; t++)
		pos[t] = t;
	int V = m.cfg.V;
	*out = malloc((size_t)T * V * 4);
	st = llama_forward(&m, NULL, ids, pos, NULL, T, *out, &err);
	CHECK(st == QT_OK, "%s: %s", dir, err.msg);
	llama_free(&m);
	return st == QT_OK ? V : 0;
}

/* import-gguf(export-gguf(model)) against the model. */
static void check_round_trip(const char *name)
{
	struct export_gguf_opts eo = { .model_dir = "tiny", .output = "rt.gguf",
	                               .type = EXPORT_GGUF_F32, .n_threads = 2 };
	struct gguf_import_opts io = { .input = "rt.gguf", .outdir = "rt", .dtype = QT_DTYPE_F32 };
	struct gguf_import_stats is;
	struct qt_err err = { 0 };
	int st = export_gguf_run(&eo, NULL, &err);
	CHECK(st == QT_OK, "export %s: %s", name, err.msg);
	if (st == QT_OK) {
		st = gguf_import_dir(&io, &is, &err);
		CHECK(st == QT_OK, "import %s: %s", name, err.msg);
	}
	struct st_set a, b;
	if (st != QT_OK || st_set_open(&a, "tiny", &err) != QT_OK) {
		CHECK(st != QT_OK, "%s", err.msg);
		return;
	}
	if (st_set_open(&b, "rt", &err) != QT_OK) {
		CHECK(0, "%s", err.msg);
		st_set_close(&a);
		return;
	}
	int gemma = !strncmp(name, "gemma", 5);
	size_t same = 0, near = 0;
	double worst_norm = 0;
	CHECK(a.n_tensors == b.n_tensors, "%s: %zu tensors, imported %zu", name, a.n_tensors,
	      b.n_tensors);
	for (size_t i = 0; i < a.n_tensors; i++) {
		const struct st_tensor *x = a.tensors[i], *y = st_set_find(&b, x->name);
		int shape = y && y->n_dims == x->n_dims && y->n_elem == x->n_elem;
		for (int d = 0; shape && d < x->n_dims; d++)
			shape = x->shape[d] == y->shape[d];
		CHECK(shape, "%s: tensor %s: missing or another shape after the round trip", name,
		      x->name);
		if (!shape)
			continue;
		float *fx = malloc(x->n_elem * 4), *fy = malloc(x->n_elem * 4);
		st_tensor_to_f32(x, fx, &err);
		st_tensor_to_f32(y, fy, &err);
		size_t len = strlen(x->name);
		if (gemma && len >= 11 && !strcmp(x->name + len - 11, "norm.weight")) {
			int ok = 1;
			for (uint64_t e = 0; e < x->n_elem; e++) {
				double d = fabs((double)fx[e] - fy[e]);
				worst_norm = d > worst_norm ? d : worst_norm;
				/* half an ulp of 1 + w, and the subtraction exact: at most 2^-23 * |1 + w| */
				ok &= d <= ldexp(fabs(1.0 + fx[e]), -23);
			}
			CHECK(ok, "%s: %s: more than an ulp of 1 + w from the original", name, x->name);
			near += ok;
		} else {
			int ok = !memcmp(fx, fy, x->n_elem * 4);
			CHECK(ok, "%s: %s: values differ after the round trip", name, x->name);
			same += ok;
		}
		free(fx), free(fy);
	}
	st_set_close(&a);
	st_set_close(&b);
	int32_t ids[24];
	for (int t = 0; t < 24; t++)
		ids[t] = 3 + (t * 37) % 300;
	float *la = NULL, *lb = NULL;
	int V = dir_logits("tiny", ids, 24, &la), W = dir_logits("rt", ids, 24, &lb);
	double num = 0, den = 0;
	for (size_t e = 0; V && V == W && e < (size_t)24 * V; e++) {
		num = fmax(num, fabs((double)la[e] - lb[e]));
		den = fmax(den, fabs((double)la[e]));
	}
	CHECK(V && V == W && num <= 1e-6 * den, "%s: imported model's logits differ by %.3g of %.3g",
	      name, num, den);
	printf("%-6s: import-gguf(export-gguf): %zu tensors bit-identical, %zu norms within an ulp "
	       "of 1 + w (max %.3g), logits within %.3g relative\n", name, same, near, worst_norm,
	       den > 0 ? num / den : num);
	free(la), free(lb);
	unlink("rt.gguf");
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
	snprintf(rel, sizeof rel, "data/export/family/%s-lora", name);
	char *adir = qt_path_join(test_srcdir(), rel), label[64];
	struct export_gguf_opts ao = { .model_dir = "tiny", .adapter_dir = adir, .output = "l.gguf",
	                               .type = EXPORT_GGUF_F32, .n_threads = 2 };
	struct qt_err aerr = { 0 };
	int ast = export_gguf_run(&ao, NULL, &aerr);
	CHECK(ast == QT_OK, "export %s-lora: %s", name, aerr.msg);
	snprintf(label, sizeof label, "%s-lora", name);
	if (ast == QT_OK && gguf_reader_check_in("data/export/family/gguf-reader.txt", label, "f32",
	                                         "l.gguf"))
		printf("%-6s: the LoRA GGUF llama.cpp applied\n", name);
	unlink("l.gguf");
	free(adir);
	check_round_trip(name);
	unlink("tiny");
	free(dir);
}

int main(void)
{
	for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++)
		check_family(goldens[i].name, goldens[i].ref, goldens[i].tol);
	test_in_tmpdir();
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
		check_files(families[i]);
	return test_main_end();
}
