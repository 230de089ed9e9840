/* qlora-tools: ISC license. */
/*
 * Training step pieces for LoRA on a frozen Llama (reference.md 7.8-7.10): the forward of one
 * packed block with the LoRA branches, the causal-LM loss through the chunked LM head, and the
 * backward to every LoRA A and B. Gradient checkpointing is built in: the forward keeps only
 * each layer's input, and the backward recomputes one layer at a time (checkpointing changes
 * memory, never values). Composed from kernels/ ops; no arithmetic loops here. LoRA dropout is
 * not implemented (p must be 0).
 */
#ifndef QT_KERNELS_LLAMA_TRAIN_H
#define QT_KERNELS_LLAMA_TRAIN_H

#include "kernels/llama.h"

struct llama_train_ws;

/* Workspace for blocks of up to T tokens with LoRA ranks up to R. NULL when out of memory. */
struct llama_train_ws *llama_train_ws_new(const struct llama_model *m, int T, int R);
void llama_train_ws_free(struct llama_train_ws *ws);
/* Bytes the workspace holds (the training step's activation memory). */
size_t llama_train_ws_bytes(const struct llama_train_ws *ws);

/*
 * Forward and backward of one block. ids, pos, seg: (T) (pos restarting per segment);
 * targets: (T) the id each position predicts, or -1. LoRA gradients are ACCUMULATED into grad
 * (an adapter with lora's shapes) scaled by grad_scale (1 / trained tokens of the optimizer
 * step). neftune_mag > 0 adds NEFTune noise with neftune_seed. *loss_sum += the summed CE over
 * targets (unscaled). With grad NULL only the loss is computed (evaluation).
 */
int llama_train_block(const struct llama_model *m, const struct adapter *lora,
                      struct adapter *grad, struct llama_train_ws *ws, const int32_t *ids,
                      const int32_t *pos, const int32_t *seg, const int32_t *targets, int T,
                      float grad_scale, float neftune_mag, uint64_t neftune_seed,
                      double *loss_sum, struct qt_err *err);

#endif
