/* qlora-tools: ISC license. */
/* Not a file format of its own: documented in lora-train(1) (--method prefix). */
/*
 * lora-train's prefix-tuning extras around its training blocks, ChatGLM's P-Tuning v2 recipe:
 *
 * --prefix-dropout p drops elements of the prefix table a block reads (ChatGLM2's get_prompt:
 * nn.Dropout on the [P, 2 L, kv heads, head_dim] keys and values, training only, a fresh mask
 * per sequence), so the block's table gradient is the mask's times the gradient of the dropped
 * table. The mask is kernels/dropout.h's with seed llama_train_dropout_seed(seed, step, block,
 * -1, LORA_N_MODULES): a function of the run seed, the optimizer step and the block's place in
 * the global step only, apart from the LoRA and NEFTune streams, so resume and mpirun give the
 * same bits.
 *
 * --prefix-projection trains PEFT's prefix encoder (kernels/model/prefix_encoder.h) instead of
 * the table: the table is the MLP's output, made again after every update; each block's table
 * gradient goes back through the MLP into the MLP's gradients (the adapter's trainable tensors
 * are then the MLP's, adapter_tensors).
 */
#ifndef QT_JOBS_LORA_TRAIN_PREFIX_H
#define QT_JOBS_LORA_TRAIN_PREFIX_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/adapter.h"
#include "jobs/lora_train.h"
#include "kernels/backend.h"

/* ---- the adapter a run starts from, and the options a resume must repeat ---- */

/* A fresh prefix adapter for the options into a (o->prefix slots; PEFT's seeded init of the
 * table, or of the projection MLP with o->prefix_projection; o->prefix_pos0 recorded). nkv:
 * the model's key/value heads. */
int prefix_new_adapter(const struct train_opts *o, struct adapter *a,
                       const struct adapter_dims *dims, int nkv, struct qt_err *err);

/* --init-adapter and --prefix-projection: the adapter's MLP is trained with the option (its
 * hidden size given or not), and without it dropped (the table is trained itself). QT_EUSAGE
 * when the option asks for an MLP a lacks or one of another hidden size. */
int prefix_init_projection(const struct train_opts *o, struct adapter *a, struct qt_err *err);

/* Appends the prefix options a resume must repeat to the JSON object in buf (n bytes, its
 * closing brace last), nothing for LoRA: method and virtual_tokens, then prefix_positions 0
 * (pos0), the projection's hidden size (a's MLP, else --prefix-hidden, else kv_width) and
 * prefix_dropout only when used, so that older checkpoints stay valid. */
void prefix_options_json(const struct train_opts *o, const struct adapter *a, int kv_width,
                         int pos0, char *buf, size_t n);

/* Names (into buf, n bytes) the first tensor of grad's prefix (the projection MLP's, else the
 * table) holding a NaN or infinity; returns 1 when one does, 0 otherwise (buf untouched). */
int prefix_nonfinite_name(const struct adapter *grad, char *buf, size_t n);

/* ---- around a training block ---- */

/* N(0, 1) values for the table from seed (nn.Embedding's init, which PEFT keeps). */
void prefix_init_table(struct adapter *a, uint64_t seed);

/* PEFT's init of a->mlp from seed: the embedding N(0, 1) (nn.Embedding), each Linear's weight
 * and bias U(-1/sqrt(in), 1/sqrt(in)) (nn.Linear's reset_parameters). */
void prefix_init_mlp(struct adapter *a, uint64_t seed);

/* The seed of the prefix mask of block `block` of optimizer step `step`. */
uint64_t prefix_drop_seed(uint64_t seed, uint64_t step, uint64_t block);

/* table: the table a block reads: a->prefix, or with p > 0 its dropped copy in buf (the size
 * of a->prefix). */
const float *prefix_drop_table(const struct adapter *a, float *buf, float p, uint64_t seed);

/* After the block's backward: grad->prefix held the gradient of the dropped table alone (it was
 * zero before the block); it becomes the gradient of the table (p > 0; nothing for p = 0). */
void prefix_drop_grad(struct adapter *grad, float p, uint64_t seed);

/* The buffers of a run, in the memory of the backend that trains (the CPU's or a device's):
 * the dropped table, the MLP's activations. */
struct prefix_train {
	const struct qt_backend *be;
	float  p;            /* --prefix-dropout */
	float *drop;         /* p > 0: (P, W) */
	float *act, *scratch; /* with the MLP: (P, H) each */
};

/* For the table t in be's memory that a run trains (t->mlp.emb: with the projection, whose
 * output t->prefix is, made here), through be's ops (kernels/model/prefix_encoder.h,
 * be->dropout_forward): the same code on the CPU and a device. */
int prefix_train_init(struct prefix_train *pt, const struct qt_backend *be,
                      const struct lora_table *t, float p, struct qt_err *err);
void prefix_train_free(struct prefix_train *pt);

/* Before a block that trains into grad (a table of t's shapes in be; NULL: loss only): the
 * table to read. */
const float *prefix_train_table(struct prefix_train *pt, const struct lora_table *t,
                                const struct lora_table *grad, uint64_t seed);

/* After it: grad's table gradient through the mask, and into the MLP's gradients. */
void prefix_train_grad(struct prefix_train *pt, const struct lora_table *t,
                       const struct lora_table *grad, uint64_t seed);

/* After an update of the MLP: its table again. */
void prefix_train_refresh(struct prefix_train *pt, const struct lora_table *t);

#endif
