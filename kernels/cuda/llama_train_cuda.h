/* qlora-tools: ISC license. */
/*
 * GPU twin of kernels/model/llama_train.h (status: kernels/cuda/README). A device copy
 * of a loaded llama_model (frozen weights: f32, or NF4 codes that the bf16 linear path
 * dequantizes per GEMM), a device copy of a LoRA adapter with its gradients and fp32 AdamW
 * moments, a device workspace, and llama_train_block_cuda: the same forward / chunked LM head /
 * backward with gradient checkpointing as llama_train_block, composed from kernels/cuda/cuda.h
 * ops only. Host scalars (RoPE tables, dropout seeds, NEFTune magnitude, AdamW hparams) come
 * from the same host helpers as the CPU path. The base linears run in bf16 with fp32
 * accumulation when NF4 (fp32 SGEMM when f32), so losses track the CPU within bf16 tolerance,
 * not bit for bit. lora-train --device cuda calls it through jobs/cuda/train_cuda.c.
 */
#ifndef QT_KERNELS_LLAMA_TRAIN_CUDA_H
#define QT_KERNELS_LLAMA_TRAIN_CUDA_H

#include "kernels/adamw.h"
#include "kernels/model/llama_train.h"

#ifdef __cplusplus
extern "C" {
#endif

struct llama_cuda_model;
struct llama_cuda_lora;
struct llama_cuda_ws;

/* Copies m's weights to the device (the lm_head must be f32; tied heads share the table).
 * NULL with err set (QT_ESOFTWARE) on a device error or out of memory. */
struct llama_cuda_model *llama_cuda_model_upload(const struct llama_model *m,
                                                 struct qt_err *err);
void llama_cuda_model_free(struct llama_cuda_model *dm);

/* Device copy of a LoRA table (A, B), with zeroed gradients and AdamW moments. */
struct llama_cuda_lora *llama_cuda_lora_upload(const struct lora_table *a, struct qt_err *err);
void llama_cuda_lora_free(struct llama_cuda_lora *dl);
/* Copies between device and host LoRA tables of the same shapes; any of p (A, B), g (their
 * gradients), m, v (AdamW moments, stored as tables) may be NULL. to_device 0: download,
 * 1: upload. 0 or -1. */
int llama_cuda_lora_sync(struct llama_cuda_lora *dl, const struct lora_table *p,
                         const struct lora_table *g, const struct lora_table *m,
                         const struct lora_table *v, int to_device);
/* Optimizer side, all on the device: zero the gradients; *sumsq = their sum of squares (host
 * double, synchronising); scale them; one AdamW update (h from adamw_hparams_init). */
void llama_cuda_lora_zero_grad(struct llama_cuda_lora *dl);
int llama_cuda_lora_grad_sumsq(struct llama_cuda_lora *dl, double *sumsq);
/* The device gradient buffers (gA, gB of every pair, table order): the first max of them into
 * bufs and their float counts into n; returns how many there are (the distributed all-reduce
 * reduces them in place). */
int llama_cuda_lora_grads(struct llama_cuda_lora *dl, float **bufs, size_t *n, int max);
void llama_cuda_lora_scale_grad(struct llama_cuda_lora *dl, float coef);
void llama_cuda_lora_adamw(struct llama_cuda_lora *dl, const struct adamw_hparams *h);

/* Workspace for blocks of up to T tokens, LoRA ranks up to R (checkpointing as the CPU). */
struct llama_cuda_ws *llama_cuda_ws_new(const struct llama_cuda_model *dm, int T, int R,
                                        int checkpointing, struct qt_err *err);
void llama_cuda_ws_free(struct llama_cuda_ws *ws);
size_t llama_cuda_ws_bytes(const struct llama_cuda_ws *ws);

/* llama_train_block on the device: ids, pos, seg, targets are HOST arrays (T); gradients are
 * accumulated into dl's gradients when train != 0 (else loss only, no dropout).
 * *loss_sum += the summed CE (host, double). QT_OK, or QT_ESOFTWARE with the CUDA error. */
int llama_train_block_cuda(const struct llama_cuda_model *dm, struct llama_cuda_lora *dl,
                           int train, struct llama_cuda_ws *ws, const int32_t *ids,
                           const int32_t *pos, const int32_t *seg, const int32_t *targets, int T,
                           float grad_scale, float neftune_mag, uint64_t neftune_seed,
                           const struct llama_train_dropout *drop, double *loss_sum,
                           struct qt_err *err);

/* ---- generation (kernels/cuda/llama_decode_cuda.cu): llama_decode on the device ---- */

struct llama_cuda_cache;

/* KV cache for B rows of up to L tokens on the device (past = 0). NULL with err when out of
 * device memory. */
struct llama_cuda_cache *llama_cuda_cache_new(const struct llama_cuda_model *dm, int B, int L,
                                              struct qt_err *err);
void llama_cuda_cache_free(struct llama_cuda_cache *c);
/* Tokens already cached in row b (host copy). */
int llama_cuda_cache_past(const struct llama_cuda_cache *c, int b);

/* Copies row 0 of src (B = 1) into row b of dst, past included (gen prefills each prompt
 * alone, then decodes the batch together). 0, or -1 with the CUDA error (cuda_error). */
int llama_cuda_cache_put_row(struct llama_cuda_cache *dst, int b,
                             const struct llama_cuda_cache *src);

/* As llama_decode: ids (B, TN) and logits (B, V) are HOST arrays; lora (device) may be NULL.
 * TN <= MATVEC_MAX_T runs the linears as matvec (weights streamed once, NF4 dequantized in
 * registers with bnb's cast), larger TN as SGEMM on the dequantized weight, both as the CPU
 * engine does. QT_EDATA when past + TN exceeds L; QT_ESOFTWARE with the CUDA error. */
int llama_decode_cuda(const struct llama_cuda_model *dm, const struct llama_cuda_lora *dl,
                      struct llama_cuda_cache *c, const int32_t *ids, int B, int TN,
                      float *logits, struct qt_err *err);

#ifdef __cplusplus
}
#endif

#endif
