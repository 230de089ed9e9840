/* qlora-tools: ISC license. */
/*
 * The device side of lora-train's and gen's jobs (jobs/train.c, jobs/gen.c): thin C over the
 * CUDA backend (kernels/cuda/llama_train_cuda.h), in jobs/cuda/train_cuda.c and gen_cuda.c.
 * Built only when nvcc is found; otherwise jobs/cuda/stub.c stands in, whose constructors
 * fail with QT_ESOFTWARE (never reached: device_select answers the CPU in such a build).
 * The jobs keep every host-side decision (block order, clip coefficient, AdamW scalars,
 * sampling) and call these only where the CPU path calls a kernel.
 * Status (what has run on a device): kernels/cuda/README.
 */
#ifndef QT_JOBS_CUDA_H
#define QT_JOBS_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/adapter.h"
#include "kernels/adamw.h"
#include "kernels/model/llama.h"
#include "kernels/model/llama_train.h"

/* ---- lora-train ---- */

struct train_cuda;

/* Uploads the model, the adapter (lora) with its AdamW moments (m1, m2) and makes a workspace
 * for blocks of up to T tokens and LoRA ranks up to R. NULL with err set. */
struct train_cuda *train_cuda_new(const struct llama_model *m, const struct adapter *lora,
                                  const struct adapter *m1, const struct adapter *m2, int T,
                                  int R, int checkpointing, struct qt_err *err);
void train_cuda_free(struct train_cuda *tc);
size_t train_cuda_ws_bytes(const struct train_cuda *tc);
/* llama_train_block with the gradient on the device (train 0: loss only). */
int train_cuda_block(struct train_cuda *tc, int train, const int32_t *ids, const int32_t *pos,
                     const int32_t *seg, const int32_t *targets, int T, float grad_scale,
                     float neftune_mag, uint64_t neftune_seed,
                     const struct llama_train_dropout *drop, double *loss_sum,
                     struct qt_err *err);
void train_cuda_zero_grad(struct train_cuda *tc);
/* The gradients summed over the ranks of the job in place (NCCL, common/dist.h). */
int train_cuda_allreduce(struct train_cuda *tc, struct qt_err *err);
/* *sumsq = the gradients' sum of squares (host double). */
int train_cuda_grad_sumsq(struct train_cuda *tc, double *sumsq, struct qt_err *err);
/* Gradients scaled by coef when coef < 1, then one AdamW update with h. */
int train_cuda_update(struct train_cuda *tc, float coef, const struct adamw_hparams *h,
                      struct qt_err *err);
/* Parameters and moments back into the host adapters (for a checkpoint or the result). */
int train_cuda_download(struct train_cuda *tc, struct adapter *lora, struct adapter *m1,
                        struct adapter *m2, struct qt_err *err);

/* ---- gen ---- */

struct gen_cuda;
struct gen_cuda_cache;

/* Uploads the model and the adapter (lora may be NULL). NULL with err set. */
struct gen_cuda *gen_cuda_new(const struct llama_model *m, const struct adapter *lora,
                              struct qt_err *err);
void gen_cuda_free(struct gen_cuda *g);
/* KV cache for B rows of up to L tokens. */
struct gen_cuda_cache *gen_cuda_cache_new(struct gen_cuda *g, int B, int L, struct qt_err *err);
void gen_cuda_cache_free(struct gen_cuda_cache *c);
/* Prefills row b of c with the T prompt ids alone; logits (V) of its last token (host). */
int gen_cuda_prefill(struct gen_cuda *g, struct gen_cuda_cache *c, int b, const int32_t *ids,
                     int T, float *logits, struct qt_err *err);
/* One token for each of the B rows: ids (B) -> logits (B, V), host arrays. */
int gen_cuda_step(struct gen_cuda *g, struct gen_cuda_cache *c, const int32_t *ids, int B,
                  float *logits, struct qt_err *err);

#endif
