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
 * This file owns no arithmetic loops: every number is computed by an op. Weights are f32, or
 * NF4 for the seven linear layers. A linear layer over more than MATVEC_MAX_T rows (prefill,
 * evaluation) is SGEMM, on the whole layer dequantized into a scratch buffer when it is NF4;
 * over fewer (decoding) it is kernels/matvec.h, which dequantizes one NF4 row at a time.
 * Loading from a directory is jobs/llama_load.h's job; the LoRA pairs come as kernels/lora.h.
 */
#ifndef QT_KERNELS_LLAMA_H
#define QT_KERNELS_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "common/dtype.h"
#include "common/err.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/lora.h"

/* The seven linear layers of a decoder layer, in the order of kernels/lora.h. */
enum llama_module { LLAMA_Q, LLAMA_K, LLAMA_V, LLAMA_O, LLAMA_GATE, LLAMA_UP, LLAMA_DOWN,
                    LLAMA_N_MODULES };
_Static_assert((int)LLAMA_N_MODULES == LORA_N_MODULES, "module order as kernels/lora.h");

/* A frozen weight W (OC, C): f32 rows, or NF4 codes + per-block absmax (kernels/nf4.h). */
struct llama_linear {
	int            OC, C;
	const float   *w;          /* (OC, C) f32, or NULL when NF4 */
	const uint16_t *wb;        /* w as bf16 bits when every value is bf16-exact (decoding reads
	                              half the bytes; llama_bf16_rows), or NULL */
	const uint8_t *nf4;        /* packed codes, (OC*C + 1) / 2 bytes */
	const float   *absmax;     /* (ceil(OC*C / blocksize)) dequantized block maxima */
	const float   *code;       /* 16-entry NF4 table */
	size_t         blocksize;
	const float   *bias;       /* (OC) added to x W^T (attention_bias, mlp_bias, Qwen2's q/k/v),
	                              or NULL */
	enum qt_dtype  deq_dtype;  /* NF4 only: the quant_state dtype. bitsandbytes' dequantize_4bit
	                            * returns f32(code * absmax) cast to it, so BF16/F16 round each
	                            * dequantized value to that type; F32 (0) keeps it */
};

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
	struct llama_linear lin[LLAMA_N_MODULES];
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
	const float        *embed;      /* (V, C) */
	const float        *final_norm; /* (C) */
	struct llama_linear lm_head;    /* (V, C); tied models point w at embed */
	struct llama_layer *layers;     /* (n_layer) */
	float              *inv_freq;   /* (HD/2) from rope_inv_freq */
	int                 n_threads;  /* for the *_fast ops; <= 0: all cores */
	void               *owned;      /* storage released by llama_free (loader-specific) */
	void              (*release)(struct llama_model *);
};

/* Releases what the loader allocated. */
void llama_free(struct llama_model *m);

/* KV cache for generation: per layer (B, L, NKV, HD) keys (after RoPE) and values. */
struct llama_cache {
	int      n_layer, B, L, NKV, HD;
	float   *k, *v;     /* (n_layer, B, L, NKV, HD) */
	int32_t *past;      /* (B) tokens already cached per row */
	int      pos_base;  /* a token in slot s has position s - pos_base (prefix tuning with
	                       positions from 0 puts the prefix in slots below pos_base) */
};

/* Allocates a cache for B rows of up to L tokens. QT_ESOFTWARE when out of memory. */
int llama_cache_init(struct llama_cache *c, const struct llama_config *cfg, int B, int L,
                     struct qt_err *err);
void llama_cache_free(struct llama_cache *c);

/* Puts lora's prefix (if any) in the first slots of every row of an empty cache (keys as they
 * are: the prefix is not rotated), so decoding sees it as transformers does a cache PEFT
 * filled. QT_EDATA when it does not fit. */
int llama_cache_prefix(struct llama_cache *c, const struct llama_config *cfg,
                       const struct lora_table *lora, struct qt_err *err);

/*
 * Runs TN new tokens for each of B rows through the model, appending their k/v to the cache at
 * rows [past[b], past[b] + TN) with positions past[b] + i, then advances past.
 * ids: (B, TN); logits: (B, V) written for each row's LAST new token; lora may be NULL.
 * Requires past[b] + TN <= L. Returns QT_OK or QT_ESOFTWARE (out of memory).
 */
int llama_decode(const struct llama_model *m, const struct lora_table *lora, struct llama_cache *c,
                 const int32_t *ids, int B, int TN, float *logits, struct qt_err *err);

/*
 * Full forward of one packed sequence (no cache): ids, pos, seg: (T); logits: (T, V) written.
 * Tokens attend only within their segment; pos are the per-token position ids (restarting per
 * sample). seg NULL = one segment. For tests and evaluation; training has its own path.
 */
int llama_forward(const struct llama_model *m, const struct lora_table *lora, const int32_t *ids,
                  const int32_t *pos, const int32_t *seg, int T, float *logits,
                  struct qt_err *err);

/* out (T, OC) = beta * out + x (T, C) @ W^T + bias + scale * (x A^T) B^T (the LoRA branch when
 * lo has A; beta 0 or 1);
 * scratch: at least llama_linear_scratch(lin, T, R) floats (NF4 dequantization, LoRA middle). */
/* Dequantizes an NF4 weight (lin->w NULL) into out (OC * C floats) exactly as bitsandbytes'
 * dequantize_4bit, including the cast to lin->deq_dtype: the one place the engine (forward and
 * training) turns NF4 codes into the weight it multiplies by. */
void llama_linear_dequant(const struct llama_linear *lin, float *out);

size_t llama_linear_scratch(const struct llama_linear *lin, int T, int R);
void llama_linear_forward(float *out, const float *x, const struct llama_linear *lin,
                          const struct lora_pair *lo, int T, float beta, float *scratch,
                          int n_threads);

#endif
