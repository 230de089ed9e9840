/* qlora-tools: ISC license. */
/*
 * PEFT's prefix encoder with prefix_projection (kernels/lora.h's struct prefix_mlp): the table
 * of a prefix computed by Embedding -> Linear -> tanh -> Linear, and its backward, composed of a
 * backend table's (kernels/backend.h) linear layers and soft cap at 1 (tanh), in its memory. The table it makes
 * is the one PEFT's save writes as prompt_embeddings and the model reads (kernels/lora.h).
 */
#ifndef QT_KERNELS_MODEL_PREFIX_ENCODER_H
#define QT_KERNELS_MODEL_PREFIX_ENCODER_H

#include "kernels/backend.h"
#include "kernels/lora.h"

/* table: (P, W) = tanh(emb W1^T + b1) W2^T + b2; act: (P, H) the tanh output, kept for the
 * backward. */
void prefix_mlp_forward(const struct qt_backend *be, const struct prefix_mlp *m, float *act,
                        float *table);

/* g: the encoder's gradients (of m's shapes), +=; dtable: (P, W) the table's gradient; act:
 * (P, H) from the forward with the same m; scratch: (P, H). */
void prefix_mlp_backward(const struct qt_backend *be, const struct prefix_mlp *m,
                         const struct prefix_mlp *g, const float *act, const float *dtable,
                         float *scratch);

#endif
