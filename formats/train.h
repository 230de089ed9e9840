/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in lora-train(1). */
/*
 * lora-train's job: LoRA adapters trained on a frozen base over .pack blocks with the step
 * semantics of PEFT + the HF Trainer (reference.md 7.10): per optimizer step, micro_batch x
 * grad_accum blocks; loss = summed CE over trained targets / trained targets of the whole step
 * (the 2024 accumulation fix); global-norm clipping; the scheduled learning rate of update k is
 * base_lr * multiplier(k - 1); AdamW. Writes OUT/adapter (a PEFT adapter directory, loadable
 * by PEFT and gen --adapter), OUT/checkpoint-N every save_every steps (adapter only), and
 * OUT/log.jsonl (one line per step and per evaluation).
 */
#ifndef QT_FORMATS_TRAIN_H
#define QT_FORMATS_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum train_schedule { TRAIN_CONSTANT, TRAIN_LINEAR, TRAIN_COSINE, TRAIN_CONSTANT_WARMUP };

struct train_opts {
	const char *model_dir;
	const char *train_pack;
	const char *val_pack;       /* NULL: no evaluation */
	const char *out_dir;
	const char *targets;        /* "all-linear" or a comma list of q_proj,k_proj,... */
	const char *init_adapter;   /* NULL: PEFT's seeded init; else start from this adapter dir
	                               (its config replaces targets, rank, alpha, rslora) */
	int         rank;
	double      alpha;
	int         rslora;
	uint64_t    seed;
	double      lr, beta1, beta2, eps, weight_decay, max_grad_norm;
	enum train_schedule schedule;
	long        warmup_steps;   /* < 0: use warmup_ratio */
	double      warmup_ratio;
	int         grad_accum, micro_batch;
	long        max_steps;      /* > 0 wins over epochs */
	double      epochs;
	double      neftune_alpha;  /* 0: off */
	long        eval_every, save_every, log_every;
	int         threads;
};

struct train_stats {
	long   steps;
	double final_loss, final_eval_loss; /* eval: NaN when none */
	double tokens_per_s, seconds;
	size_t activation_bytes;
};

/* LR multiplier of update k (k = 1, 2, ...) as transformers' schedulers, given W and T. */
double train_lr_multiplier(enum train_schedule s, long k, long warmup, long total);

int train_run(const struct train_opts *o, struct train_stats *st, struct qt_err *err);

#endif
