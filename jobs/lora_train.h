/* qlora-tools: ISC license. */
/* The job of lora-train(1); its checkpoints are lora-checkpoint(5). */
/*
 * lora-train's job: LoRA adapters trained on a frozen base over .pack blocks with the step
 * semantics of PEFT + the HF Trainer (reference.md 7.10): per optimizer step, micro_batch x
 * grad_accum blocks; loss = summed CE over trained targets / trained targets of the whole step
 * (the 2024 accumulation fix); global-norm clipping; the scheduled learning rate of update k is
 * base_lr * multiplier(k - 1); AdamW. Writes OUT/adapter (a PEFT adapter directory, loadable
 * by PEFT and gen --adapter), OUT/checkpoint-N every save_every steps (everything an exact
 * resume needs: formats/lora_checkpoint.h), and OUT/log.jsonl (one line per step and per
 * evaluation). A resumed run ends with the same adapter bytes as an uninterrupted one.
 * Under mpirun (common/dist.h) each of the R ranks trains micro_batch x grad_accum blocks of a
 * global step of R times as many, in rank order; gradients, loss sums and token counts are
 * reduced over ranks before clipping and the (identical) AdamW step, and rank 0 alone writes.
 * A rank's later blocks are computed apart and added, so the gradient is the same sum
 * ((g0 + g1) + g2) ... whether the blocks were one rank's or several's.
 */
#ifndef QT_JOBS_LORA_TRAIN_H
#define QT_JOBS_LORA_TRAIN_H

#include <signal.h>
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
	int         prefix;         /* --method prefix: virtual tokens (PEFT's PREFIX_TUNING) instead
	                               of LoRA pairs; 0: LoRA */
	int         prefix_pos0;    /* prefix: 1: the sequence's positions from 0 (ChatGLM); 0: after
	                               the prefix (PEFT); -1: --init-adapter's choice, else 0.
	                               Recorded in the adapter */
	double      prefix_dropout; /* prefix: dropout p in [0, 1) on the table, training only */
	int         prefix_projection; /* prefix: train PEFT's projection MLP, whose output is the
	                                  table (prefix_projection) */
	int         prefix_hidden;  /* its encoder_hidden_size; 0: the kv width (PEFT's default) */
	uint64_t    seed;
	double      lr, beta1, beta2, eps, weight_decay, max_grad_norm;
	enum train_schedule schedule;
	long        warmup_steps;   /* < 0: use warmup_ratio */
	double      warmup_ratio;
	int         grad_accum, micro_batch;
	long        max_steps;      /* > 0 wins over epochs */
	double      epochs;
	double      neftune_alpha;  /* 0: off */
	double      dropout;        /* LoRA dropout p in [0, 1); 0: off */
	int         shuffle;        /* 1: a seeded permutation of the blocks per epoch */
	int         bf16;           /* 1: the frozen base's training products in bf16
	                               (kernels/frozen.h frozen_set_bf16); CPU only */
	long long   act_memory;     /* bytes for the kept layers' activations (the others are
	                               recomputed: checkpointing); < 0: auto, a share of the
	                               available memory (jobs/lora_train.c) */
	long        eval_every, save_every, log_every;
	const char *eval_prompts;   /* NULL, or prompts JSONL generated and scored at each
	                               evaluation (jobs/lora_train_eval.h) */
	const char *eval_prompt_key, *eval_label_key; /* gen's --prompt-key / --label-key */
	int         eval_generate;  /* new tokens per evaluation prompt */
	int         threads;
	const char *device;         /* "cpu", "cuda" or "auto" (NULL: auto): device_select() once
	                               the inputs are accepted (its notice when it falls back) */
	const char *resume;         /* NULL, or a run directory / checkpoint directory */
	volatile sig_atomic_t *stop; /* when it becomes non-zero: finish the step, checkpoint,
	                                return QT_OK with stats.interrupted set */
};

struct train_stats {
	long   steps;
	double final_loss, final_eval_loss; /* eval: NaN when none */
	double final_eval_accuracy;         /* eval_mean_token_accuracy; NaN when none */
	double final_eval_scores[4];        /* rouge-1, rouge-2, rouge-l, bleu-4 of the last
	                                       evaluation with eval_prompts (else NaN) */
	double tokens_per_s, input_tokens_per_s, seconds;
	size_t activation_bytes;            /* the training workspace */
	int    kept_layers, n_layers;       /* layers whose activations were kept, of all */
	int    kept_attention;              /* the others kept attention's outputs */
	long   peak_rss_kib;                /* getrusage maxrss at the end */
	long   resumed_from;                /* step of the checkpoint resumed from, or 0 */
	int    interrupted;                 /* stopped by o->stop; checkpoint-<steps> written */
	double reduce_seconds;              /* under MPI: time in the step's reductions (all-reduce
	                                       of gradients and scalars, waiting for the slowest
	                                       rank included) */
	int    failed_alone;                /* under MPI: failed on this rank while the others were
	                                       in a step; the caller must end the job (dist_abort) */
};

/* LR multiplier of update k (k = 1, 2, ...) as transformers' schedulers, given W and T. */
double train_lr_multiplier(enum train_schedule s, long k, long warmup, long total);

/* Training block of the g-th block drawn (g from 0): epoch g / n, index g % n of the epoch's
 * order (file order, or with shuffle a Fisher-Yates permutation from qt_rng seeded by
 * seed + epoch). perm: (n) scratch that holds the order of *perm_epoch (-1: none yet). */
uint64_t train_block_index(uint64_t g, uint64_t n, int shuffle, uint64_t seed, uint64_t *perm,
                           int64_t *perm_epoch);

/*
 * --config FILE: a JSON object whose keys are long option names, turned into "--key=value"
 * arguments placed after argv[0] and before the others (so the command line wins). Values:
 * string or number as written, true as "--key" alone, false and null omitted, an array of
 * strings joined with commas. Replaces *argc, *argv (the new vector is never freed).
 * QT_ENOINPUT / QT_EDATA for a missing or malformed file.
 */
int train_config_args(const char *path, int *argc, char ***argv, struct qt_err *err);

/* Runs the job. out_dir may be NULL with resume: the run directory of the checkpoint. */
int train_run(const struct train_opts *o, struct train_stats *st, struct qt_err *err);

#endif
