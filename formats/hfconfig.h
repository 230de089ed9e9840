/* qlora-tools: ISC license. */
/*
 * HuggingFace config.json for LlamaForCausalLM-family models (model_type "llama", "mistral" or
 * "qwen2": the same decoder with biases and sliding windows placed per family), and
 * generation_config.json. See hfconfig(5) and reference.md 4.3.
 *
 * Reading applies LlamaConfig's defaults to absent keys, accepts both the classic rope keys
 * (rope_theta + rope_scaling) and transformers 5's rope_parameters, and refuses what the
 * Llama forward pass (reference.md 4.4) cannot run, naming the field: another architecture or
 * model_type, hidden_act other than silu, an unsupported rope type, inconsistent head counts.
 */
#ifndef QT_FORMATS_HFCONFIG_H
#define QT_FORMATS_HFCONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "kernels/lora.h"

struct json_t;

#define HF_CONFIG_NAME     "config.json"
#define HF_GENCONFIG_NAME  "generation_config.json"
#define HF_MAX_TOKEN_IDS   8 /* entries of a bos/eos/pad list we keep */
#define HF_MAX_LAYER_TYPES 512 /* layers a layer_types list may name */

enum hf_rope_type {
	HF_ROPE_DEFAULT, /* rope_scaling null or rope_type "default" */
	HF_ROPE_LINEAR,  /* positions divided by factor */
	HF_ROPE_LLAMA3,  /* Llama 3.1 frequency-dependent scaling */
};

/* A token id field: absent/null (n = 0), one int (n = 1, is_list 0), or a list. */
struct hf_token_ids {
	int     n;
	int     is_list;
	int64_t id[HF_MAX_TOKEN_IDS];
};

struct hf_config {
	char    architecture[64];   /* architectures[0], "LlamaForCausalLM" */
	char    model_type[32];     /* llama, mistral, qwen2, qwen3, gemma, gemma2, phi3, glm,
	                               glm4 */
	int64_t vocab_size;
	int64_t hidden_size;
	int64_t intermediate_size;
	int64_t num_hidden_layers;
	int64_t num_attention_heads;
	int64_t num_key_value_heads;     /* default num_attention_heads */
	int64_t head_dim;                /* default hidden_size / num_attention_heads */
	int64_t max_position_embeddings;
	int64_t sliding_window;          /* mistral, qwen2; 0 = none (null) */
	int     use_sliding_window;      /* qwen2: sliding_window applies at all */
	int64_t max_window_layers;       /* qwen2: layers below it attend fully */
	int     n_layer_types;           /* qwen2: entries of layer_types (0: absent) */
	uint8_t layer_sliding[HF_MAX_LAYER_TYPES]; /* layer_types[l] == "sliding_attention" */
	double  partial_rotary_factor;   /* 1; phi3, glm and glm4 (default 0.5) may rotate part */
	double  rms_norm_eps;
	double  rope_theta;
	double  initializer_range;
	double  attention_dropout;
	double  resid_pdrop;             /* phi3: dropout on each branch before the residual add */
	struct {
		enum hf_rope_type type;
		double  factor;                  /* linear, llama3 */
		double  low_freq_factor;         /* llama3 */
		double  high_freq_factor;        /* llama3 */
		int64_t original_max_position_embeddings; /* llama3 */
	} rope_scaling;
	int     tie_word_embeddings;
	int     attention_bias;
	int     mlp_bias;
	int     gelu_tanh;               /* gemma: hidden_act gelu_pytorch_tanh (or gelu); gemma2:
	                                    hidden_activation gelu_pytorch_tanh */
	double  query_pre_attn_scalar;   /* gemma2: attention scores scaled by its -0.5 power;
	                                    0 elsewhere (head_dim^-0.5) */
	double  attn_logit_softcapping;  /* gemma2; 0 = none (null) */
	double  final_logit_softcapping; /* gemma2; 0 = none (null) */
	char    torch_dtype[16];         /* "bfloat16", "float16", "float32" or "" */
	struct hf_token_ids bos, eos, pad;
};

/* Fills c with LlamaConfig's defaults (the values transformers uses for absent keys). */
void hf_config_defaults(struct hf_config *c);

/* Whether linear module k (q, k, v, o, gate, up, down: kernels/lora.h's order) has a bias:
 * llama/mistral's attention_bias (all four attention projections) and mlp_bias; qwen2's q, k
 * and v always; qwen3's attention_bias (all four attention projections; no MLP biases). */
int hf_config_has_bias(const struct hf_config *c, int module);
/* Whether each layer normalizes queries and keys per head before RoPE (qwen3's q_norm, k_norm:
 * RMSNorm over head_dim with rms_norm_eps). */
int hf_config_has_qk_norm(const struct hf_config *c);
/* gemma: RMSNorm multiplies by 1 + weight, and the embedding rows by sqrt(hidden_size) (as a
 * float32); 0 for the other families. */
int hf_config_norm_plus_one(const struct hf_config *c);
float hf_config_embed_scale(const struct hf_config *c);
/* kernels/lora.h's LORA_FUSED_* bits: phi3's q, k and v are one self_attn.qkv_proj (rows q,
 * then k, then v; LORA_FUSED_QKV); phi3's and glm's gate and up one mlp.gate_up_proj (rows
 * gate, then up; LORA_FUSED_GATE_UP). */
int hf_config_fused(const struct hf_config *c);
/* The rotary dims of a head: int(head_dim * partial_rotary_factor), as transformers. */
int64_t hf_config_rotary_dim(const struct hf_config *c);
/* glm, glm4: rotary pairs are interleaved dims (2j, 2j + 1), not (j, j + rot/2). */
int hf_config_rope_interleaved(const struct hf_config *c);
/* The names of a layer's norms under model.layers.N.: the attention's input norm, the
 * attention output's norm (NULL but in gemma2 and glm4), the MLP's input norm and the MLP
 * output's norm (NULL but in gemma2 and glm4). */
struct hf_norm_names { const char *attn_in, *attn_out, *mlp_in, *mlp_out; };
struct hf_norm_names hf_config_norm_names(const struct hf_config *c);
/* Layer l's sliding attention window in tokens, 0 for full causal attention: mistral's and
 * phi3's sliding_window on every layer; qwen2's with use_sliding_window, on the layers layer_types
 * marks "sliding_attention" (without layer_types: those from max_window_layers on); gemma2's
 * on the layers layer_types marks (without it: the even layers, as Gemma2Config); llama
 * none. */
int64_t hf_config_layer_window(const struct hf_config *c, int64_t layer);

/* Reads and validates path. QT_ENOINPUT if unreadable; QT_EDATA "path: field: reason". */
int hf_config_load(const char *path, struct hf_config *c, struct qt_err *err);
/* Parses JSON text (name is used in messages). */
int hf_config_parse(const char *text, size_t len, const char *name, struct hf_config *c,
                    struct qt_err *err);
/* Checks the fields against each other (also run by load/parse). */
int hf_config_validate(const struct hf_config *c, const char *name, struct qt_err *err);

/* The role of a config.json key (formats/hfconfig_keys.c, hfconfig(5) KEYS). */
enum hf_key_role {
	HF_KEY_UNKNOWN,     /* not a key of the reference's Llama/Mistral models */
	HF_KEY_IMPLEMENTED, /* the math follows it (values it cannot run are refused) */
	HF_KEY_REFUSED,     /* refused unless its value leaves the math unchanged */
	HF_KEY_NO_MATH,     /* no effect on the forward pass or the LoRA gradients */
};
enum hf_key_role hf_config_key_role(const char *key);

/*
 * Refuses (QT_EDATA "name: key: value ...") what the compute would otherwise ignore:
 * attention_bias or mlp_bias true; a sliding_window shorter than max_seq, the longest sequence
 * the run can see (0: not known yet; seen_by says where it comes from, for the message);
 * attention_dropout other than 0 when training. Every tool that computes with the model (gen,
 * lora-train) calls it.
 */
int hf_config_check_compute(const struct hf_config *c, const char *name, int64_t max_seq,
                            const char *seen_by, int training, struct qt_err *err);

/* Writes c as transformers' to_json_string does: keys sorted, indent 2, floats as Python's
 * repr, trailing newline. Atomic. */
int hf_config_write(const char *path, const struct hf_config *c, struct qt_err *err);

/* generation_config.json with the token ids only (fields with n = 0 are left out). */
int hf_genconfig_write(const char *path, const struct hf_token_ids *bos,
                       const struct hf_token_ids *eos, const struct hf_token_ids *pad,
                       struct qt_err *err);

/* Appends v as transformers writes config.json: json.dumps(v, indent=2, sort_keys=True) (ASCII
 * escapes, reals as Python's repr) and a newline; out of memory sets b->oom. */
void hf_config_dump(struct qt_buf *b, struct json_t *v);

/* A double as Python's json.dumps writes it: repr() ("1e-05", "100000.0",
 * "0.041666666666666664", common/pyfloat.h's py_float_repr), NaN, Infinity, -Infinity. */
void hf_format_double(double v, char *buf, size_t cap);
/* The double nearest the shortest decimal that round-trips f as a float32: turns the f32
 * 1e-5 of a GGUF into the 1e-05 of the original config. */
double hf_f32_shortest(float f);

#endif
