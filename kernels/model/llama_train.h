/* qlora-tools: ISC license. */
/*
 * Training step pieces for LoRA on a frozen Llama (reference.md 7.8-7.10): the forward of one
 * packed block with the LoRA branches, the causal-LM loss through the chunked LM head, and the
 * backward to every LoRA A and B. Gradient checkpointing is built in, per layer: the forward
 * keeps each layer's input and the activations of the layers chosen to be kept; the backward
 * recomputes the others one at a time (which layers are kept changes memory and time, never
 * values). LoRA dropout (PEFT: on the adapter input only, training only) uses the
 * counter-based masks of kernels/dropout.h, regenerated in the backward pass. Composed from the ops of the model's backend table
 * (kernels/backend.h), the same code on every backend; no arithmetic loops here.
 */
#ifndef QT_KERNELS_LLAMA_TRAIN_H
#define QT_KERNELS_LLAMA_TRAIN_H

#include "kernels/model/llama.h"

struct llama_train_ws;

/* Workspace in the memory of m's backend for blocks of up to T tokens with LoRA ranks up to R
 * that keeps the activations of the last `kept` layers (0..n_layer, clamped) from the forward
 * pass and recomputes the others', one at a time, in the backward pass. NULL when out of
 * memory. llama_train_ws_new: checkpointing != 0 keeps none, 0 keeps all. */
struct llama_train_ws *llama_train_ws_new_kept(const struct llama_model *m, int T, int R,
                                               int kept);
struct llama_train_ws *llama_train_ws_new(const struct llama_model *m, int T, int R,
                                          int checkpointing);
/* The same, and keep_attn != 0: each recomputed layer still keeps attention's output with its
 * log-sum-exps and the residual stream after attention (and a sandwich-normed family's
 * branch outputs before their norms), so its recompute skips attention and the o and down
 * frozen products; llama_train_attn_bytes more a recomputed layer. Values never change. */
struct llama_train_ws *llama_train_ws_new_plan(const struct llama_model *m, int T, int R,
                                               int kept, int keep_attn);
/* Bytes of one layer's activations in such a workspace: what keeping one more layer costs
 * (with keep_attn, llama_train_attn_bytes less). */
size_t llama_train_layer_bytes(const struct llama_model *m, int T, int R);
size_t llama_train_attn_bytes(const struct llama_model *m, int T, int R);
void llama_train_ws_free(struct llama_train_ws *ws);
/* Bytes the workspace holds (the training step's activation memory). */
size_t llama_train_ws_bytes(const struct llama_train_ws *ws);

/* LoRA dropout of one training block: probability p in [0, 1) (0: off); the mask of branch
 * (layer, module) is kernels/dropout.h's with seed
 * llama_train_dropout_seed(seed, step, block, layer, module). */
struct llama_train_dropout {
	float    p;
	uint64_t seed, step, block;
};

/* Host: a splitmix64 hash of the run seed, the optimizer step, the block within the step, the
 * layer and the module (apart from NEFTune's seeds). */
uint64_t llama_train_dropout_seed(uint64_t seed, uint64_t step, uint64_t block, int layer,
                                  int module);

/*
 * Forward and backward of one block over the model's backend. ids, pos, seg, targets are host
 * arrays (T): pos restarting per segment, targets the id each position predicts, or -1; lora
 * and grad are in the backend's memory. LoRA gradients are ACCUMULATED into grad
 * (a LoRA table with lora's shapes) scaled by grad_scale (1 / trained tokens of the optimizer
 * step). neftune_mag > 0 adds NEFTune noise with neftune_seed; drop (NULL: none) applies LoRA
 * dropout. *loss_sum += the summed CE over targets (unscaled). With grad NULL only the loss is
 * computed (evaluation: no dropout).
 */
int llama_train_block(const struct llama_model *m, const struct lora_table *lora,
                      struct lora_table *grad, struct llama_train_ws *ws, const int32_t *ids,
                      const int32_t *pos, const int32_t *seg, const int32_t *targets, int T,
                      float grad_scale, float neftune_mag, uint64_t neftune_seed,
                      const struct llama_train_dropout *drop, double *loss_sum,
                      struct qt_err *err);

/* Right after a loss-only llama_train_block (grad NULL) on ws of T tokens: the targets that
 * are the argmax of their logits (kernels/cross_entropy.h's lm_head_correct, TRL's token
 * accuracy). The workspace still holds that block's final hidden states and targets; a
 * backend with lm_head_eval counted them with the losses (the logits made once). -1 when the
 * backend cannot count them. */
long llama_train_correct(const struct llama_model *m, const struct llama_train_ws *ws, int T);

#endif
