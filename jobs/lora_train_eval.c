/* qlora-tools: ISC license. */
/* Generation metrics during training; see lora_train_eval.h. */
#include "jobs/lora_train_eval.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "jobs/gen.h"
#include "jobs/rouge_zh.h"

const char *const train_eval_score_names[TRAIN_EVAL_N_SCORES] = {
	"rouge-1", "rouge-2", "rouge-l", "bleu-4",
};

/* gen's options for the evaluation prompts: gen's defaults (greedy, the model's template and
 * system prompt rule), the user's keys and token budget. */
static struct gen_opts eval_gen_opts(const struct train_opts *o, const char *const *inputs)
{
	struct gen_opts g = {
		.model_dir = o->model_dir, .inputs = inputs, .n_inputs = 1, .output = "-",
		.prompt_key = o->eval_prompt_key, .label_key = o->eval_label_key,
		.system = { .mode = CHAT_SYSTEM_DEFAULT },
		.sample = { .do_sample = 0, .temperature = 1.0f, .top_k = 50, .top_p = 1.0f,
		            .min_p = 0.0f, .repetition_penalty = 1.0f },
		.seed = 42, .max_new_tokens = o->eval_generate, .batch = 8, .threads = o->threads,
		.device = o->device,
	};
	return g;
}

int train_eval_check(const struct train_opts *o, struct qt_err *err)
{
	const char *in[1] = { o->eval_prompts };
	struct gen_opts g = eval_gen_opts(o, in);
	size_t n, nl;
	int rc = gen_check(&g, &n, &nl, err);
	if (rc)
		return rc;
	if (nl < n)
		return qt_err_set(err, QT_EDATA, "%s: %zu of %zu records have no reference answer "
		                  "to score generations against (%s)", o->eval_prompts, n - nl, n,
		                  o->eval_label_key ? "give each a --eval-label-key value"
		                  : "end each conversation with an assistant turn, or use "
		                  "--eval-prompt-key and --eval-label-key");
	return QT_OK;
}

/* The means of rouge-zh's metrics JSON at path. */
static int read_scores(const char *path, double scores[TRAIN_EVAL_N_SCORES], struct qt_err *err)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	int rc = QT_OK;
	for (int i = 0; rc == QT_OK && i < TRAIN_EVAL_N_SCORES; i++) {
		json_t *v = json_object_get(root, train_eval_score_names[i]);
		if (!json_is_number(v))
			rc = qt_err_set(err, QT_ESOFTWARE, "%s: no \"%s\" in rouge-zh's metrics", path,
			                train_eval_score_names[i]);
		else
			scores[i] = json_number_value(v);
	}
	json_decref(root);
	return rc;
}

int train_eval_generate(const struct train_opts *o, const struct adapter *a,
                        const char *out_dir, long step, double scores[TRAIN_EVAL_N_SCORES],
                        struct qt_err *err)
{
	char name[64];
	int rc;
	/* removed after use; a kill -9 may leave it, and the next evaluation replaces it */
	char *adir = qt_path_join(out_dir, "eval-adapter");
	snprintf(name, sizeof name, "eval-%ld.jsonl", step);
	char *pred = qt_path_join(out_dir, name);
	snprintf(name, sizeof name, "eval-metrics.tmp.%ld", (long)getpid());
	char *metrics = qt_path_join(out_dir, name);
	if (!adir || !pred || !metrics) {
		rc = qt_err_set(err, QT_ESOFTWARE, "out of memory");
		goto out;
	}
	if ((rc = adapter_save(a, adir, QT_DTYPE_F32, err)))
		goto out;
	const char *in[1] = { o->eval_prompts };
	struct gen_opts g = eval_gen_opts(o, in);
	struct gen_stats gs;
	g.adapter_dir = adir;
	g.output = pred;
	if ((rc = gen_run(&g, &gs, err)))
		goto out;
	/* rouge-zh's defaults (its tool sets them) */
	struct rouge_zh_opts r = { .input = pred, .output = metrics, .threads = o->threads,
	                           .predict_key = "predict", .label_key = "labels",
	                           .empty = CHATGLM_EMPTY_ZERO, .mean = PY_MEAN_NUMPY1 };
	if ((rc = rouge_zh_run(&r, err)) || (rc = read_scores(metrics, scores, err)))
		goto out;
out:
	if (adir)
		qt_dir_abort(adir);
	if (metrics)
		unlink(metrics);
	free(adir);
	free(pred);
	free(metrics);
	return rc;
}
