/* qlora-tools: ISC license. */
/*
 * The Llama-family model composed from the ops in kernels/ (reference.md 4.4): embedding,
 * per layer RMSNorm -> q,k,v (+LoRA, + bias) [-> per-head RMSNorm of q and k] -> RoPE -> causal
 * GQA attention (a sliding window per layer, a scale and soft cap per family) -> o (+LoRA)
 * [-> RMSNorm] -> residual, RMSNorm -> gate,up (+LoRA) -> SwiGLU or GeGLU -> down (+LoRA)
 * [-> RMSNorm] -> residual; final RMSNorm; LM head [-> soft cap]. The bracketed norms are
 * Gemma-2's and GLM-4's sandwich norms. With fused projections (kernels/lora.h's bits)
 * lin[LLAMA_Q] is qkv_proj, whose output is split into q, k and v (Phi-3), and/or
 * lin[LLAMA_GATE] is gate_up_proj, split into gate and up (Phi-3, GLM); the slots a fusion
 * leaves (lin[LLAMA_K] and lin[LLAMA_V]; lin[LLAMA_UP]) are then empty (OC 0).
 * Composed once, over a backend table (kernels/backend.h): the model's weights, the LoRA table,
 * activations and caches live in the memory of the model's backend (m->be), and every number
 * is computed by one of its ops; this file owns no arithmetic loops. Weights are f32, or NF4
 * for the seven linear layers (kernels/frozen.h). Loading from a directory is
 * jobs/llama_load.h's job (into host memory, the CPU's); llama_model_upload copies a loaded
 * model to another backend; the LoRA pairs come as kernels/lora.h.
 */
#ifndef QT_KERNELS_LLAMA_H
#define QT_KERNELS_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "common/dtype.h"
#include "common/err.h"
#include "kernels/attention.h"
#include "kernels/backend.h"
#include "kernels/frozen.h"
#include "kernels/kernels.h"
#include "kernels/lora.h"

/* The seven linear layers of a decoder layer, in the order of kernels/lora.h. */
enum llama_module { LLAMA_Q, LLAMA_K, LLAMA_V, LLAMA_O, LLAMA_GATE, LLAMA_UP, LLAMA_DOWN,
                    LLAMA_N_MODULES };
_Static_assert((int)LLAMA_N_MODULES == LORA_N_MODULES, "module order as kernels/lora.h");

/* RMSNorm weights are the factors the normalized rows are multiplied by: Gemma's stored
 * weights w become 1 + w when loaded. */
struct llama_layer {
	const float        *attn_norm;  /* (C) input_layernorm */
	const float        *mlp_norm;   /* (C) the MLP's input norm: post_attention_layernorm
	                                   (Gemma-2: pre_feedforward_layernorm) */
	const float        *post_attn_norm; /* (C) Gemma-2's post_attention_layernorm of the
	                                       attention output before the residual add, or NULL */
	const float        *post_mlp_norm;  /* (C) Gemma-2's post_feedforward_layernorm, or NULL */
	const float        *q_norm;     /* (HD) Qwen3's RMSNorm of each query head before RoPE, or
	                                   NULL */
	const float        *k_norm;     /* (HD) the same for each key head, or NULL */
	struct frozen_linear lin[LLAMA_N_MODULES];
};

/* The MLP's gate: silu (Llama, Mistral, Qwen) or PyTorch's tanh-approximated gelu (Gemma). */
enum llama_act { LLAMA_ACT_SILU, LLAMA_ACT_GELU_TANH };

struct llama_config {
	int   n_layer, C, H, NH, NKV, HD, V;
	float eps;
	enum llama_act act;
	float embed_scale;      /* the gathered embedding rows are multiplied by it (Gemma:
	                           sqrt(hidden_size)); 0: not scaled */
	const int32_t *window;  /* (n_layer) each layer's sliding attention window in tokens, 0 for
	                           full causal attention (kernels/attention.h); NULL: all 0 */
	float attn_scale;       /* factor of q . k; 0: HD^-0.5 (Gemma-2: query_pre_attn_scalar^-0.5) */
	float attn_softcap;     /* Gemma-2's attn_logit_softcapping; 0: none */
	float final_softcap;    /* Gemma-2's final_logit_softcapping: logits = tanh(z / c) * c;
	                           0: none */
	int   fused;            /* LORA_FUSED_QKV: lin[LLAMA_Q] is qkv_proj; LORA_FUSED_GATE_UP:
	                           lin[LLAMA_GATE] is gate_up_proj */
	int   rot;              /* rotary dims of a head (kernels/rope.h's rope_forward_part):
	                           head_dim * partial_rotary_factor; 0: all HD */
	int   rope_interleaved; /* GLM: rotary pairs (2j, 2j + 1) */
};

/* The rotary dims of a head. */
static inline int llama_rot(const struct llama_config *c)
{
	return c->rot > 0 ? c->rot : c->HD;
}

/* Layer l's sliding window (0: none). */
static inline int llama_window(const struct llama_config *c, int l)
{
	return c->window ? c->window[l] : 0;
}

/* What layer l's attention does beyond causality and segments. */
static inline struct attn_opts llama_attn(const struct llama_config *c, int l)
{
	struct attn_opts o = { llama_window(c, l), c->attn_scale, c->attn_softcap };
	return o;
}

struct llama_model {
	struct llama_config cfg;
	const float        *embed;      /* (V, C), or NULL when embed_b holds it */
	const uint16_t     *embed_b;    /* (V, C) the table as bf16 bits, read on the CPU when embed
	                                   is NULL (jobs/llama_load.h's LLAMA_LOAD_BF16_VOCAB); the
	                                   LM head may then be bf16 only too (lm_head.wb, w NULL) */
	const float        *final_norm; /* (C) */
	struct frozen_linear lm_head;   /* (V, C); tied models point w at embed */
	struct llama_layer *layers;     /* (n_layer) host array */
	float              *inv_freq;   /* (HD/2) from rope_inv_freq; host memory (RoPE tables are
	                                   made on the host, then uploaded) */
	int                 n_threads;  /* for the CPU's threaded ops; <= 0: all cores */
	const struct qt_backend *be;    /* whose memory the weights are in; NULL: the CPU */
	void               *owned;      /* storage released by llama_free (loader-specific) */
	void              (*release)(struct llama_model *);
};

/* The model's backend. */
static inline const struct qt_backend *llama_be(const struct llama_model *m)
{
	return m->be ? m->be : &qt_backend_cpu;
}

/* NULL when be has every op m needs (forward, decode and training, with the prefix of lora
 * when lora has one), else a phrase naming the first one it lacks ("Gemma's GeGLU MLP"). */
const char *llama_backend_missing(const struct llama_model *m, const struct lora_table *lora,
                                  const struct qt_backend *be);

/* QT_OK, or QT_EUSAGE naming in err what be lacks for m (and lora's prefix). */
int llama_backend_check(const struct llama_model *m, const struct lora_table *lora,
                        const struct qt_backend *be, struct qt_err *err);

/* dst = a copy of the host model src in be's memory (weights, norms, biases; the bf16 decode
 * rows are not copied), with dst->be = be. cfg.window and inv_freq stay src's host arrays:
 * src must outlive dst. QT_EUSAGE when be lacks an op src needs (llama_backend_missing),
 * QT_ESOFTWARE when out of memory. llama_free(dst) releases the copies. */
int llama_model_upload(struct llama_model *dst, const struct llama_model *src,
                       const struct qt_backend *be, struct qt_err *err);

/* A LoRA table in be's memory with src's pairs, prefix table and projection MLP: a copy of
 * their values, or zeros when zero != 0; dst->pairs is a host array. A prefix needs
 * src->prefix_width (QT_ESOFTWARE without it, as when out of memory). */
int lora_table_upload(struct lora_table *dst, const struct lora_table *src,
                      const struct qt_backend *be, int zero, struct qt_err *err);
/* src's values (in be's memory) into the host table dst of the same shapes (pairs, prefix and
 * MLP where dst has them). 0 or -1. */
int lora_table_download(struct lora_table *dst, const struct lora_table *src,
                        const struct qt_backend *be);
/* Releases what lora_table_upload allocated. */
void lora_table_release(struct lora_table *t, const struct qt_backend *be);
/* Every trainable tensor of t into p and their float counts into n, while they fit in max
 * (formats/adapter.h's adapter_tensors order: each pair's A and B in table order, then the
 * prefix MLP's five arrays, or else the prefix table); returns how many there are. */
int lora_table_tensors(const struct lora_table *t, float **p, size_t *n, int max);

/* Releases what the loader allocated. */
void llama_free(struct llama_model *m);

/* KV cache for generation: per layer (B, L, NKV, HD) keys (after RoPE) and values, in the
 * memory of the backend it was made for. */
struct llama_cache {
	int      n_layer, B, L, NKV, HD;
	const struct qt_backend *be;
	float   *k, *v;     /* (n_layer, B, L, NKV, HD) */
	int32_t *past;      /* (B) tokens already cached per row (host) */
	int32_t *past_dev;  /* past in be's memory (== past on the CPU) */
	int      pos_base;  /* a token in slot s has position s - pos_base (prefix tuning with
	                       positions from 0 puts the prefix in slots below pos_base) */
};

/* Allocates a cache for B rows of up to L tokens in the memory of m's backend. QT_ESOFTWARE
 * when out of memory. */
int llama_cache_init(struct llama_cache *c, const struct llama_model *m, int B, int L,
                     struct qt_err *err);
/* Copies row 0 of src (its past tokens) into row b of dst, whose past there becomes src's
 * (gen prefills each prompt alone, then decodes the batch). QT_EDATA when it does not fit. */
int llama_cache_put_row(struct llama_cache *dst, int b, const struct llama_cache *src,
                        struct qt_err *err);
void llama_cache_free(struct llama_cache *c);

/* Puts lora's prefix (if any) in the first slots of every row of an empty cache (keys as they
 * are: the prefix is not rotated), so decoding sees it as transformers does a cache PEFT
 * filled. QT_EDATA when it does not fit. */
int llama_cache_prefix(struct llama_cache *c, const struct lora_table *lora,
                       struct qt_err *err);

/*
 * Runs TN new tokens for each of B rows through the model, appending their k/v to the cache at
 * rows [past[b], past[b] + TN) with positions past[b] + i, then advances past.
 * ids: (B, TN); logits: (B, V) written for each row's LAST new token (host arrays); lora
 * (NULL: none) in the model's backend memory, as the cache.
 * Requires past[b] + TN <= L. Returns QT_OK or QT_ESOFTWARE (out of memory).
 */
int llama_decode(const struct llama_model *m, const struct lora_table *lora, struct llama_cache *c,
                 const int32_t *ids, int B, int TN, float *logits, struct qt_err *err);

/*
 * Full forward of one packed sequence (no cache): ids, pos, seg: (T); logits: (T, V) written
 * (host arrays).
 * Tokens attend only within their segment; pos are the per-token position ids (restarting per
 * sample). seg NULL = one segment. For tests and evaluation; training has its own path.
 */
int llama_forward(const struct llama_model *m, const struct lora_table *lora, const int32_t *ids,
                  const int32_t *pos, const int32_t *seg, int T, float *logits,
                  struct qt_err *err);

#endif
