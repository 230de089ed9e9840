/* qlora-tools: ISC license. */
/*
 * The LoRA table the model reads: plain data, one slot per (layer, module) for the seven linear
 * modules of a decoder layer (q, k, v, o, gate, up, down: the order of enum llama_module and of
 * formats/adapter.h), layer-major. A slot with r == 0 (A NULL) is not adapted. Slot (l, m) adds
 * scaling * B (A x) to the module's output, A (r, in) and B (out, r) row-major f32.
 * It sits below both its users: formats/adapter.h (PEFT's files) fills one, kernels/model/ reads
 * one, and neither includes the other. Gradients and optimizer moments are tables of the same
 * shapes.
 */
#ifndef QT_KERNELS_LORA_H
#define QT_KERNELS_LORA_H

#include <stddef.h>

#define LORA_N_MODULES 7

/* Fused projections, a bit each: q/k/v as one qkv_proj in slot q (Phi-3), gate/up as one
 * gate_up_proj in slot gate (Phi-3, GLM); the slots a fusion leaves (k, v; up) are unused. */
#define LORA_FUSED_QKV     1
#define LORA_FUSED_GATE_UP 2

/* One LoRA pair; r == 0 means the module is not adapted (A and B are NULL). */
struct lora_pair {
	int    r;
	int    in, out;
	double alpha;
	float  scaling;  /* alpha / r, or alpha / sqrt(r) with use_rslora, rounded to f32 */
	float *A;        /* [r, in] */
	float *B;        /* [out, r] */
};

/* PEFT's prefix encoder with prefix_projection (its PrefixEncoder): the prefix table, P rows of
 * W = L * 2 * kv_dim, is transform(embedding) = W2 tanh(W1 e_p + b1) + b2 per slot p, from an
 * embedding E [P, D] (D: PEFT's token_dim, the kv width), W1 [H, D], b1 [H] (H: its
 * encoder_hidden_size), W2 [W, H], b2 [W], row-major f32 as torch's Linear. emb NULL: none.
 * The five arrays are one allocation starting at emb. Its gradients are a struct of the same
 * shapes. */
struct prefix_mlp {
	int    P, D, H, W;
	float *emb, *w1, *b1, *w2, *b2;
};

/* Floats of m's five arrays together (the one allocation at emb). */
static inline size_t prefix_mlp_floats(const struct prefix_mlp *m)
{
	return (size_t)m->P * m->D + (size_t)m->H * m->D + (size_t)m->H + (size_t)m->W * m->H +
	       (size_t)m->W;
}

/* The pairs of n_layers layers: pairs[l * LORA_N_MODULES + m] (storage owned elsewhere), and a
 * prefix-tuning table (PEFT's PREFIX_TUNING): prefix_len slots, slot p at prefix + p * (L * 2 *
 * NKV * HD) for the model's L layers, holding per layer the (NKV, HD) keys then values (PEFT's
 * prompt_embeddings layout). A table may have pairs, a prefix, or (as a gradient) both shapes.
 * prefix_pos0: the sequence's positions start at 0 (ChatGLM's P-Tuning v2) instead of after
 * the prefix (PEFT with transformers). prefix_width: the floats of a slot (L * 2 * NKV * HD),
 * which copies of the table need (0: unknown). mlp: with PEFT's prefix_projection, the
 * encoder whose output the prefix is (mlp.emb NULL: none); its tensors are then the trained
 * ones (lora_table_tensors). */
struct lora_table {
	int               n_layers;   /* 0 when there are no pairs (pairs NULL) */
	struct lora_pair *pairs;
	int               prefix_len; /* P, or 0 */
	float            *prefix;
	int               prefix_pos0;
	size_t            prefix_width;
	struct prefix_mlp mlp;
};

/* Pair of layer l, module m. */
static inline struct lora_pair *lora_table_at(const struct lora_table *t, int l, int m)
{
	return &t->pairs[(size_t)l * LORA_N_MODULES + (size_t)m];
}

/* The prefix slots of t, or 0 (t may be NULL). */
static inline int lora_prefix_len(const struct lora_table *t)
{
	return t && t->prefix ? t->prefix_len : 0;
}

#endif
