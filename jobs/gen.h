/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in gen(1). */
/*
 * gen's job: prompts JSONL in, predictions JSONL out, one line per input line, in order.
 * A record is {"messages": [...]} (a trailing assistant turn becomes the labels) or a prompt
 * column with an optional reference column (--prompt-key / --label-key, ADGEN's content and
 * summary). Prompts are rendered with the model's chat template and system-prompt rule exactly
 * as tok-chatml renders training data (formats/chat.h), then decoded with a KV cache
 * (kernels/model/llama.h) and the logits processors of kernels/sample.h, several prompts per batch.
 * Output: {"prompt": ..., "predict": ..., "labels": ..., "prompt_tokens": N, "new_tokens": N}
 * (+ "predict_ids": [...] with gen_opts.ids).
 */
#ifndef QT_JOBS_GEN_H
#define QT_JOBS_GEN_H

#include <stdint.h>

#include "common/err.h"
#include "formats/chat.h"
#include "kernels/sample.h"

struct gen_opts {
	const char          *model_dir;
	const char          *adapter_dir;     /* NULL: base model only */
	const char *const   *inputs;          /* "-" = stdin */
	int                  n_inputs;
	const char          *output;          /* "-" = stdout */
	const char          *prompt_key;      /* NULL: {"messages": ...} records */
	const char          *label_key;       /* NULL: no labels column */
	struct chat_system   system;
	const char          *template_;       /* NULL: the model's; "chatml"; or a .jinja file */
	struct sample_params sample;
	uint64_t             seed;            /* row i of the input uses seed + i */
	int                  max_new_tokens;
	int                  batch;           /* prompts decoded together */
	int                  stream;          /* print text as it comes (single prompt) */
	int                  ids;             /* also write "predict_ids": the new token ids */
	uint32_t             stop[16];        /* extra stop token ids */
	int                  n_stop;
	int                  threads;
	const char          *device;          /* "cpu", "cuda", "auto" (NULL: auto): device_select()
	                                         once the prompts are read */
	int                  int8_act;        /* NF4 decoding with int8 activations (CPU only;
	                                         changes the math: kernels/matvec.h) */
};

struct gen_stats {
	uint64_t n_prompts, n_prompt_tokens, n_new_tokens;
	double   seconds;
};

/* Runs the whole job. QT_ENOINPUT / QT_EDATA ("file:line: reason") / QT_EIO; the output is
 * written atomically, so nothing is left on failure. */
int gen_run(const struct gen_opts *o, struct gen_stats *st, struct qt_err *err);

/* Reads and renders the prompts of o->inputs with the model directory's tokenizer and template,
 * without loading the weights: what gen_run would refuse in its inputs is refused here
 * (lora-train --eval-prompts checks its file before training). *n_prompts and *n_labels (the
 * records that carry a reference answer) are set on success. */
int gen_check(const struct gen_opts *o, size_t *n_prompts, size_t *n_labels,
              struct qt_err *err);

#endif
