/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in lora-train(1) (--eval-prompts). */
/*
 * lora-train's generation metrics during training, as the ChatGLM recipe's
 * predict_with_generate: the adapter as it stands is saved (f32, as the final one), the
 * evaluation prompts are decoded greedily by gen's job (jobs/gen.h) on the same base, and the
 * predictions are scored by rouge-zh's job (jobs/rouge_zh.h). Same code as `gen --adapter` then
 * `rouge-zh`, so the figures logged at the last step equal those two tools run on the final
 * adapter.
 */
#ifndef QT_JOBS_LORA_TRAIN_EVAL_H
#define QT_JOBS_LORA_TRAIN_EVAL_H

#include "common/err.h"
#include "formats/adapter.h"
#include "jobs/lora_train.h"

/* The four means rouge-zh reports, in its order and units. */
enum { TRAIN_EVAL_ROUGE1, TRAIN_EVAL_ROUGE2, TRAIN_EVAL_ROUGEL, TRAIN_EVAL_BLEU4,
       TRAIN_EVAL_N_SCORES };
extern const char *const train_eval_score_names[TRAIN_EVAL_N_SCORES];

/* Before training: the prompts file is read and rendered (gen_check); every record must carry a
 * reference answer. QT_EDATA / QT_ENOINPUT naming the file and line. */
int train_eval_check(const struct train_opts *o, struct qt_err *err);

/*
 * Generates for o->eval_prompts with adapter a and scores the result. The predictions stay in
 * out_dir/eval-<step>.jsonl (gen's output format); the adapter is written to
 * out_dir/eval-adapter for gen to load, and removed. scores[] receives the means.
 */
int train_eval_generate(const struct train_opts *o, const struct adapter *a,
                        const char *out_dir, long step, double scores[TRAIN_EVAL_N_SCORES],
                        struct qt_err *err);

#endif
