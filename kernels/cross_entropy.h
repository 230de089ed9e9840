/* qlora-tools: ISC license. */
/*
 * Causal-LM cross-entropy over logits rows (HF ForCausalLMLoss with reduction "sum" divided by
 * num_items_in_batch): the caller passes targets already shifted (row t's target is the token
 * at t + 1) and the normaliser N explicitly, so gradient accumulation can divide by the label
 * tokens of the whole optimizer step (reference 7.6). Targets < 0 (HF uses -100) are ignored:
 * loss 0 and gradient 0. Sums of exponentials are accumulated in double.
 * Also: softmax rows (sampling) and a chunked LM head + CE that never holds (T, V) logits.
 * See kernels/kernels.h for the conventions.
 */
#ifndef QT_KERNELS_CROSS_ENTROPY_H
#define QT_KERNELS_CROSS_ENTROPY_H

#include "kernels/kernels.h"

/* losses: (T) written, -log softmax(logits[t])[targets[t]] or 0 for ignored rows;
 * loss: NULL, or *loss += sum(losses) / normalizer; logits: (T, V); targets: (T). */
void cross_entropy_forward(float *losses, float *loss, const float *logits,
                           const int32_t *targets, int T, int V, float normalizer);

/* Fused forward + backward. dlogits: (T, V) WRITTEN (not accumulated), may alias logits:
 *   dlogits[t] = (softmax(logits[t]) - onehot(targets[t])) * grad_scale, zero if ignored,
 * with grad_scale = dL/dloss / normalizer computed by the host. losses: (T) or NULL, as in
 * cross_entropy_forward (computed before dlogits overwrites an aliased logits). */
void cross_entropy_backward(float *dlogits, float *losses, const float *logits,
                            const int32_t *targets, int T, int V, float grad_scale);

/* probs, logits: (T, V); probs may alias logits. probs[t] = softmax(logits[t]). */
void softmax_forward(float *probs, const float *logits, int T, int V);

/*
 * LM head + CE in chunks: for the rows with targets >= 0 only, logits = x @ W^T (SGEMM) for
 * up to `chunk` rows at a time, soft-capped when softcap > 0 (kernels/softcap.h: Gemma-2's
 * final_logit_softcapping), cross_entropy_backward, then dx += dlogits @ W.
 * losses: (T) written (0 for ignored rows); dx: (T, C) += or NULL (loss only);
 * x: (T, C) final normed hidden states; W: (V, C) the LM head (tied: the embedding table);
 * targets: (T); scratch: lm_head_ce_scratch(chunk, C, V) floats. W gets no gradient (frozen).
 */
size_t lm_head_ce_scratch(int chunk, int C, int V);
void lm_head_ce(float *losses, float *dx, const float *x, const float *W,
                const int32_t *targets, int T, int C, int V, float grad_scale, float softcap,
                float *scratch, int chunk);

/*
 * Token accuracy as TRL logs it (mean_token_accuracy): of the rows with 0 <= targets[t] < V,
 * how many have their largest logit (x @ W^T, soft-capped when softcap > 0, as lm_head_ce)
 * at targets[t], the first largest on ties (torch.argmax). Returns that count.
 * x: (T, C); W: (V, C); targets: (T); scratch: lm_head_ce_scratch(chunk, C, V) floats.
 */
long lm_head_correct(const float *x, const float *W, const int32_t *targets, int T, int C,
                     int V, float softcap, float *scratch, int chunk);

/* The same two with the head as bf16 bits Wb (V, C) (a bf16 file's lm_head kept at half the
 * memory): its rows made f32 a tile of the product at a time (kernels/frozen.h), exactly the
 * f32 head's values, so the results are lm_head_ce's and lm_head_correct's bit for bit. CPU
 * only: a device gets the f32 head (llama_model_upload). */
void lm_head_ce_bf16(float *losses, float *dx, const float *x, const uint16_t *Wb,
                     const int32_t *targets, int T, int C, int V, float grad_scale,
                     float softcap, float *scratch, int chunk);
long lm_head_correct_bf16(const float *x, const uint16_t *Wb, const int32_t *targets, int T,
                          int C, int V, float softcap, float *scratch, int chunk);

/* An evaluation's two at once: losses as lm_head_ce without dx writes them, and the return
 * value lm_head_correct's count, from one product of the head per chunk (the evaluation made
 * the logits twice: an eighth of its time on SmolLM2). W (V, C), or the bf16 Wb when W is
 * NULL. */
long lm_head_eval(float *losses, const float *x, const float *W, const uint16_t *Wb,
                  const int32_t *targets, int T, int C, int V, float softcap, float *scratch,
                  int chunk);

#endif
