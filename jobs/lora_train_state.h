/* qlora-tools: ISC license. */
/* Not a file format of its own: lora-train's internals (lora_train.h is its API). */
/*
 * The state of one lora-train run and the parts of its job that share it: lora_train.c sets a
 * run up and drives its steps; lora_train_step.c runs blocks and keeps the trainable tensors'
 * gradients (zero, accumulate, reduce over ranks, norm, clip, AdamW); lora_train_init.c makes
 * the adapter a run starts from; lora_train_options.c writes the options a resume must repeat;
 * lora_train_rundir.c keeps the run directory (lock, log.jsonl, checkpoints) and the progress
 * line; lora_train_prefix.h holds prefix tuning's extras and lora_train_eval.h the evaluation
 * by generation.
 */
#ifndef QT_JOBS_LORA_TRAIN_STATE_H
#define QT_JOBS_LORA_TRAIN_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "formats/adapter.h"
#include "formats/lora_checkpoint.h"
#include "formats/model_dir.h"
#include "formats/pack.h"
#include "jobs/lora_train.h"
#include "jobs/lora_train_prefix.h"
#include "kernels/adamw.h"
#include "kernels/backend.h"
#include "kernels/model/llama.h"
#include "kernels/model/llama_train.h"

/* The trainable tensors of an adapter (adapter_tensors), listed once: the pairs' A and B, then
 * a prefix table; the gradient and moment adapters list theirs in the same order. */
struct train_tensors {
	size_t  n;
	float **p;
	size_t *len;
	char   *bias;  /* a bias (the projection MLP's): no weight decay */
};

/* One run of lora-train: train_run's state from setup to the end. */
struct train_state {
	struct model_dir md;
	struct llama_model m;
	struct pack_file tr, va;
	int has_val;
	struct adapter lora, grad, m1, m2;
	struct adapter gblk;         /* > 1 block per rank and step: one block's gradient */
	/* The model and the tables it trains, in the memory of the backend: on the CPU the
	 * loaded model and views of the adapters above; on a device, copies there (dm and the
	 * tables owned, brought back to the adapters by train_sync_host). */
	const struct qt_backend *be;
	struct llama_model dm;
	const struct llama_model *run_m;
	struct lora_table pt, gt, bt, m1t, m2t; /* lora, grad, gblk, m1, m2 */
	struct train_tensors tl, tg, t1, t2, tb; /* their tensors, in the backend's memory */
	double *sumsq;               /* (1) in the backend's memory */
	float *flat;                 /* CPU, > 1 rank: the gradients in one buffer to all-reduce */
	size_t n_flat;
	struct llama_train_ws *ws;
	struct prefix_train pfx;     /* prefix: dropout and projection buffers, in the backend */
	int32_t *ids, *pos, *seg, *tgt;
	uint64_t *perm, *bi;
	int64_t perm_epoch;
	char *out_dir, *options;
	FILE *log;
	int lock_fd;                 /* OUT/.lock held for the run, -1 before */
	int kept;                    /* layers whose activations the workspace keeps */
	int keep_attn;               /* the others keep attention's output (llama_train.h) */
};

/* ---- jobs/lora_train_step.c ---- */

/* ids, positions restarting per segment, and shifted targets of one block; returns the
 * trained targets, *input the non-padding tokens. */
uint64_t train_block_inputs(const struct pack_block *b, int32_t *ids, int32_t *pos,
                            int32_t *seg, int32_t *tgt, uint64_t *input);

/* The tensors the model trains: those of adapter a on the CPU, of its copy lt on a device (the
 * same list: pairs, then the prefix MLP's or the prefix table). */
int train_tensors_of(const struct train_state *s, const struct adapter *a,
                     const struct lora_table *lt, struct train_tensors *t, struct qt_err *err);

/* Frees t's lists (not the tensors: they belong to their adapters or tables). */
void train_tensors_free(struct train_tensors *t);

/* Zeroes every tensor of g on the backend. */
void train_zero_grads(const struct train_state *s, const struct train_tensors *g);

/* The backend's sticky error as err (QT_ESOFTWARE, "backend: what: error"), cleared there. */
int train_backend_fail(const struct train_state *s, const char *what, struct qt_err *err);

/* The device's parameters and moments back into the host adapters (a checkpoint, the
 * result, evaluation by generation); nothing to do on the CPU. */
int train_sync_host(struct train_state *s, struct qt_err *err);

/* One block (already in s->ids ...) on the backend; grad (s->gt or s->bt) NULL: loss only.
 * pseed: the block's --prefix-dropout mask. */
int train_run_block(struct train_state *s, struct lora_table *grad, int T, float grad_scale,
                    float mag, uint64_t seed, const struct llama_train_dropout *drop,
                    uint64_t pseed, double *sum, struct qt_err *err);

/* The gradients' sum of squares (a host double). */
int train_grad_sumsq(struct train_state *s, double *sumsq, struct qt_err *err);

/* Names (into buf) the first LoRA gradient tensor holding a NaN or infinity (CPU; on the device
 * the tensors are not read back, and buf says "a LoRA gradient"). */
void train_nonfinite_grad_name(const struct train_state *s, char *buf, size_t n);

/* The error that stops a run at step k on a non-finite loss or gradient (what, e.g. "loss nan"):
 * no update is applied, so the last checkpoint (step last_ckpt, 0: none) stays the last good
 * state to resume from. */
int train_nonfinite_stop(long k, const char *what, long last_ckpt, const char *out_dir,
                         struct qt_err *err);

/* Clipping by coef (when < 1) and one AdamW update of every LoRA tensor. */
int train_update(struct train_state *s, float coef, const struct adamw_hparams *hp,
                 struct qt_err *err);

/* Mean CE over the validation blocks; with several ranks each takes a contiguous share and
 * the sums are reduced in rank order (equal to one process's up to double rounding). *acc:
 * TRL's mean_token_accuracy with one block an eval batch: each block's share of label tokens
 * whose logits' argmax is the label (0 for a block without labels, as TRL), averaged over the
 * blocks; NaN where the backend cannot count them (llama_train_correct) or without blocks. */
int train_eval_loss(struct train_state *s, double *loss, double *acc, struct qt_err *err);

/* The one place where the step's gradients are complete: every rank's sum over the blocks of
 * its share, reduced over ranks in rank order (CPU) or by NCCL (device); afterwards every rank
 * holds the same gradients and takes the same optimizer step. */
int train_reduce_grads(struct train_state *s, struct qt_err *err);

/* grad += one block's gradient in s->gblk (elementwise, in table order). */
void train_add_grads(const struct train_state *s, const struct train_tensors *g,
                     const struct train_tensors *b);

/* ---- jobs/lora_train_init.c ---- */

/* A fresh adapter: from --init-adapter, or PEFT's seeded init for the options. */
int train_new_adapter(const struct train_opts *o, struct train_state *s,
                      const struct adapter_dims *dims, struct qt_err *err);

/* ---- jobs/lora_train_options.c ---- */

/* Every rank must train the same run: the options and data of rank 0 (a hash of them). */
int train_same_as_rank0(const struct train_state *s, struct qt_err *err);

/* The options a resume must repeat (lora-checkpoint(5)), as a JSON object. grad_accum is the
 * global accumulation, --grad-accum times the ranks: the blocks one optimizer step consumes
 * are the same for any split of that product into ranks. */
char *train_options_json(const struct train_opts *o, const struct train_state *s, int pos0);

/* ---- jobs/lora_train_rundir.c ---- */

/* Opens OUT/log.jsonl: truncated for a new run, trimmed to the checkpoint for a resume. */
int train_open_log(struct train_state *s, long resumed, struct qt_err *err);

/* OUT/checkpoint-<step> (lora-checkpoint(5)) from the run as it stands after step ck->step,
 * the device's parameters and moments brought back first. */
int train_save_checkpoint(struct train_state *s, const struct lora_ckpt_state *ck,
                          struct qt_err *err);

/* The one-line progress display (step/total, loss, tokens/s, ETA). */
void train_progress(double *t_last, long k, long k0, long total, double loss, double el,
                    uint64_t tok, uint64_t in_tok);

/* The process's peak resident set so far, KiB (0 when unknown). */
long train_peak_rss_kib(void);

#endif
