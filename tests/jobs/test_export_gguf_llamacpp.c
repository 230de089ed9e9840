/* qlora-tools: ISC license. */
/*
 * export-gguf on the default model ($QT_MODEL_DIR, SmolLM2-135M-Instruct) against llama.cpp
 * (tests/ref/export_gguf_llamacpp.py, llama-cpp-python 0.3.36 built from source):
 *   - the F32 GGUF we write now (and every other --type, and the LoRA GGUF of
 *     tests/data/export/smollm2-lora) is, byte for byte, the file llama.cpp and gguf-py read
 *     when the goldens were made (gguf-reader.txt), and our reader counts what gguf-py did;
 *     the script recorded each quantized file only after finding all its tensors identical to
 *     llama_model_quantize's from our F32 file, so they still are;
 *   - our engine's logits on the model directory equal llama.cpp's on that F32 GGUF
 *     (llamacpp-smollm2.logits.bin: F32 KV cache, no flash attention) within 1e-4 of the
 *     row's max |logit|, the prompts of tests/data/llama_smollm2/logits.bin, each run alone;
 *     the argmax equal at every position;
 *   - gen --adapter smollm2-lora, greedy, gives llama.cpp's greedy ids with our LoRA GGUF
 *     applied (llamacpp-lora-greedy-ids.txt) on tests/data/gen/greedy-prompts.jsonl.
 * Skips when the model is absent.
 */
#include "jobs/export_gguf.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "gguf_reader_golden.h"
#include "jobs/gen.h"
#include "jobs/llama_load.h"
#include "kernels/model/llama.h"
#include "logits_golden.h"
#include "test.h"

/* Each file type of the default model and its adapter against gguf-reader.txt. */
static void check_files(const char *dir)
{
	for (int ty = EXPORT_GGUF_F32; ty < EXPORT_GGUF_N_TYPES; ty++) {
		const char *tn = export_gguf_type_names[ty];
		struct export_gguf_opts o = { .model_dir = dir, .output = "smollm2.gguf", .type = ty,
		                              .n_threads = 2 };
		struct qt_err err = { 0 };
		int st = export_gguf_run(&o, NULL, &err);
		CHECK(st == QT_OK, "export %s: %s", tn, err.msg);
		if (st == QT_OK && gguf_reader_check("smollm2", tn, "smollm2.gguf"))
			printf("smollm2 %-6s: the file llama.cpp's tools and gguf-py read\n", tn);
		unlink("smollm2.gguf");
	}
	char *lora = qt_path_join(test_srcdir(), "data/export/smollm2-lora");
	struct export_gguf_opts o = { .model_dir = dir, .adapter_dir = lora, .output = "lora.gguf",
	                              .type = EXPORT_GGUF_F32, .n_threads = 2 };
	struct qt_err err = { 0 };
	int st = export_gguf_run(&o, NULL, &err);
	CHECK(st == QT_OK, "export adapter: %s", err.msg);
	if (st == QT_OK && gguf_reader_check("smollm2-lora", "f32", "lora.gguf"))
		printf("smollm2-lora: the file llama.cpp's lora_path and gguf-py read\n");
	unlink("lora.gguf");
	free(lora);
}

/* Our forward on the directory against llama.cpp's logits on its F32 GGUF. */
static void check_logits(const char *dir)
{
	char *path = qt_path_join(test_srcdir(), "data/export/llamacpp-smollm2.logits.bin");
	struct logits_golden g;
	struct qt_err err = { 0 };
	struct model_dir md;
	struct llama_model m;
	if (logits_golden_open(&g, path)) {
		free(path);
		return;
	}
	int st = model_dir_open(&md, dir, MODEL_DIR_NO_TOKENIZER, &err);
	if (st == QT_OK) {
		st = llama_load(&m, &md, &err);
		model_dir_close(&md);
	}
	CHECK(st == QT_OK, "%s: %s", dir, err.msg);
	CHECK(st != QT_OK || g.V == (uint32_t)m.cfg.V, "%s: vocab %u, model %d", path, g.V, m.cfg.V);
	if (st != QT_OK || g.V != (uint32_t)m.cfg.V) {
		if (st == QT_OK)
			llama_free(&m);
		logits_golden_close(&g);
		free(path);
		return;
	}
	m.n_threads = 2;
	double worst_rel = 0, worst_abs = 0;
	for (uint32_t k = 0; k < g.n; k++) {
		int T = g.T[k], am;
		int32_t *ids = malloc((size_t)T * 4), *pos = malloc((size_t)T * 4);
		float *got = malloc((size_t)T * g.V * 4);
		for (int t = 0; t < T; t++)
			ids[t] = logits_golden_id(&g, k, t), pos[t] = t;
		st = llama_forward(&m, NULL, ids, pos, NULL, T, got, &err);
		CHECK(st == QT_OK, "%s", err.msg);
		if (st == QT_OK) {
			double abs_err, rel = logits_golden_err(&g, k, got, &abs_err, &am);
			printf("prompt %u (T=%d): ours vs llama.cpp max abs err %.3g, max rel err %.3g\n",
			       k, T, abs_err, rel);
			CHECK(rel <= 1e-4, "prompt %u: rel err %.3g vs llama.cpp", k, rel);
			CHECK(am, "prompt %u: argmax differs from llama.cpp's", k);
			worst_rel = rel > worst_rel ? rel : worst_rel;
			worst_abs = abs_err > worst_abs ? abs_err : worst_abs;
		}
		free(ids), free(pos), free(got);
	}
	printf("SmolLM2-135M-Instruct: our engine vs llama.cpp on our F32 GGUF: max abs err %.3g, "
	       "max rel err %.3g (%u prompts)\n", worst_abs, worst_rel, g.n);
	llama_free(&m);
	logits_golden_close(&g);
	free(path);
}

/* gen --adapter, greedy, 24 new tokens: each prompt's ids line against llama.cpp's. */
static void check_lora_greedy(const char *dir)
{
	char *gold = qt_path_join(test_srcdir(), "data/export/llamacpp-lora-greedy-ids.txt");
	char *prompts = qt_path_join(test_srcdir(), "data/gen/greedy-prompts.jsonl");
	char *lora = qt_path_join(test_srcdir(), "data/export/smollm2-lora");
	char *want = NULL;
	size_t len;
	struct qt_err err = { 0 };
	const char *inputs[] = { prompts };
	struct gen_opts o = {
		.model_dir = dir, .adapter_dir = lora, .inputs = inputs, .n_inputs = 1,
		.output = "gen.jsonl", .system = { .mode = CHAT_SYSTEM_DEFAULT },
		.sample = { .do_sample = 0, .temperature = 1.0f, .top_k = 50, .top_p = 1.0f,
		            .repetition_penalty = 1.0f },
		.seed = 42, .max_new_tokens = 24, .batch = 32, .ids = 1, .threads = 2,
	};
	struct gen_stats gs;
	int st = qt_read_file(gold, &want, &len, &err);
	CHECK(st == QT_OK, "%s", err.msg);
	if (st == QT_OK) {
		st = gen_run(&o, &gs, &err);
		CHECK(st == QT_OK, "gen_run: %s", err.msg);
	}
	FILE *fp = st == QT_OK ? fopen("gen.jsonl", "r") : NULL;
	char line[65536];
	int n = 0, same = 0;
	const char *w = want;
	while (fp && fgets(line, sizeof line, fp)) {
		json_error_t je;
		json_t *r = json_loads(line, 0, &je);
		json_t *a = json_object_get(r, "predict_ids");
		char mine[4096] = "";
		size_t at = 0;
		for (size_t i = 0; json_is_array(a) && i < json_array_size(a) && at < sizeof mine - 16; i++)
			at += (size_t)snprintf(mine + at, sizeof mine - at, "%s%lld", i ? " " : "",
			                       (long long)json_integer_value(json_array_get(a, i)));
		const char *nl = w ? strchr(w, '\n') : NULL;
		int ok = json_is_array(a) && nl && (size_t)(nl - w) == at && !memcmp(w, mine, at);
		if (!ok)
			printf("prompt %d: gen --adapter differs from llama.cpp with our LoRA GGUF\n", n);
		same += ok;
		w = nl ? nl + 1 : NULL;
		n++;
		json_decref(r);
	}
	if (fp)
		fclose(fp);
	CHECK(n == 24 && same == n && w && !*w, "gen --adapter vs llama.cpp + LoRA GGUF: %d of %d",
	      same, n);
	printf("gen --adapter vs llama.cpp with our LoRA GGUF, greedy: %d of %d prompts identical\n",
	       same, n);
	free(want), free(gold), free(prompts), free(lora);
}

int main(void)
{
	const char *dir = getenv("QT_MODEL_DIR");
	struct stat sb;
	if (!dir || !*dir || stat(dir, &sb) != 0) {
		SKIP("QT_MODEL_DIR unset or missing: no llama.cpp parity check of export-gguf");
		return test_main_end();
	}
	test_in_tmpdir();
	check_files(dir);
	check_logits(dir);
	check_lora_greedy(dir);
	return test_main_end();
}
