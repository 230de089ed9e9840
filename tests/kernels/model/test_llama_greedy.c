/* qlora-tools: ISC license. */
/*
 * gen's greedy decoding on the default model ($QT_MODEL_DIR) against transformers
 * generate(do_sample=False) (tests/ref/gen_greedy_golden.py): 24 ChatML prompts (12 Chinese,
 * 12 English, the model's default system prompt, generation prompt), 24 new tokens each, token
 * for token. Runs the library entry point gen_run exactly as `gen --ids --max-new-tokens 24
 * --batch 32` does. Skips when the model is absent.
 */
#include "jobs/gen.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "test.h"

#define N_MAX 64

static int golden[N_MAX][64], golden_n[N_MAX], n_golden;

static void read_golden(const char *path)
{
	FILE *fp = fopen(path, "r");
	CHECK(fp != NULL, "%s", path);
	char line[4096];
	while (fp && n_golden < N_MAX && fgets(line, sizeof line, fp)) {
		char *s = line, *e;
		int k = 0;
		for (long v; k < 64 && (v = strtol(s, &e, 10), e != s); s = e)
			golden[n_golden][k++] = (int)v;
		golden_n[n_golden++] = k;
	}
	if (fp)
		fclose(fp);
}

/* Runs gen with the given batch size; returns how many prompts matched token for token. */
static int run(const char *model, const char *prompts, int batch)
{
	char out[] = "/tmp/qt_greedy.XXXXXX";
	int fd = mkstemp(out);
	CHECK(fd >= 0, "mkstemp");
	if (fd < 0)
		return -1;
	close(fd);
	const char *inputs[] = { prompts };
	struct gen_opts o = {
		.model_dir = model, .inputs = inputs, .n_inputs = 1, .output = out,
		.system = { .mode = CHAT_SYSTEM_DEFAULT },
		.sample = { .do_sample = 0, .temperature = 1.0f, .top_k = 50, .top_p = 1.0f,
		            .repetition_penalty = 1.0f },
		.seed = 42, .max_new_tokens = 24, .batch = batch, .ids = 1, .threads = 2,
	};
	struct gen_stats gs;
	struct qt_err err = { 0 };
	int st = gen_run(&o, &gs, &err);
	CHECK(st == QT_OK, "gen_run: %s", err.msg);
	int match = 0, row = 0;
	FILE *fp = st == QT_OK ? fopen(out, "r") : NULL;
	char line[65536];
	while (fp && fgets(line, sizeof line, fp)) {
		json_error_t je;
		json_t *r = json_loads(line, 0, &je);
		json_t *a = json_object_get(r, "predict_ids");
		int ok = row < n_golden && json_is_array(a) && (int)json_array_size(a) == golden_n[row];
		int first = -1;
		for (size_t i = 0; json_is_array(a) && i < json_array_size(a); i++)
			if (first < 0 && (row >= n_golden || (int)i >= golden_n[row] ||
			                  json_integer_value(json_array_get(a, i)) != golden[row][i]))
				first = (int)i, ok = 0;
		if (!ok)
			printf("batch %d prompt %d: differs from transformers at new token %d\n", batch,
			       row, first < 0 ? (int)json_array_size(a) : first);
		match += ok;
		json_decref(r);
		row++;
	}
	if (fp)
		fclose(fp);
	CHECK(row == n_golden, "batch %d: %d output lines for %d prompts", batch, row, n_golden);
	unlink(out);
	printf("gen greedy, batch %d: %d/%d prompts identical to transformers generate, token for "
	       "token (%llu new tokens)\n", batch, match, n_golden,
	       (unsigned long long)gs.n_new_tokens);
	return match;
}

int main(void)
{
	const char *dir = getenv("QT_MODEL_DIR");
	struct stat sb;
	if (!dir || !*dir || stat(dir, &sb) != 0) {
		SKIP("QT_MODEL_DIR unset or missing: no greedy parity check");
		return test_main_end();
	}
	char *ids = qt_path_join(test_srcdir(), "data/gen/greedy-ids.txt");
	char *prompts = qt_path_join(test_srcdir(), "data/gen/greedy-prompts.jsonl");
	read_golden(ids);
	CHECK(n_golden >= 20, "%d golden prompts", n_golden);
	/* All prompts in one batch: 24 decoding steps (batch 8 and batch 1 give the same tokens;
	 * run with QT_GREEDY_ALL=1 to check them too, it takes a minute). */
	int m = run(dir, prompts, 32);
	CHECK(m == n_golden, "batch 32: %d of %d match", m, n_golden);
	if (getenv("QT_GREEDY_ALL")) {
		int m8 = run(dir, prompts, 8), m1 = run(dir, prompts, 1);
		CHECK(m8 == n_golden && m1 == n_golden, "batch 8: %d, batch 1: %d of %d match", m8, m1,
		      n_golden);
	}
	free(ids);
	free(prompts);
	return test_main_end();
}
