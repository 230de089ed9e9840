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

/* The pairs of n_layers layers: pairs[l * LORA_N_MODULES + m] (storage owned elsewhere). */
struct lora_table {
	int               n_layers;
	struct lora_pair *pairs;
};

/* Pair of layer l, module m. */
static inline struct lora_pair *lora_table_at(const struct lora_table *t, int l, int m)
{
	return &t->pairs[(size_t)l * LORA_N_MODULES + (size_t)m];
}

#endif
