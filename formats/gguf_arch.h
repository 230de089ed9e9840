/* qlora-tools: ISC license. */
/* Not a file format of its own: the llama.cpp naming that gguf(5) (man/man5/gguf.5)
 * documents. */
/*
 * llama.cpp's architecture names and tensor names for the HF model families we write
 * (gguf-py constants.py MODEL_ARCH_NAMES and tensor_mapping.py; convert_hf_to_gguf.py), as
 * tables: adding a family is one gguf_family entry (its HF model_type, the llama.cpp
 * architecture, its per-layer tensor names and which rows llama.cpp permutes).
 * Used by export-gguf (jobs/export_gguf.c).
 */
#ifndef QT_FORMATS_GGUF_ARCH_H
#define QT_FORMATS_GGUF_ARCH_H

#include <stddef.h>

/* How llama.cpp stores a tensor's rows relative to HF. */
enum gguf_permute {
	GGUF_PERMUTE_NONE = 0,
	GGUF_PERMUTE_Q,   /* Q rows interleaved per head for rope NORMAL, H = num_attention_heads */
	GGUF_PERMUTE_K,   /* the same for K, H = num_key_value_heads */
};

/* Which config dimension a tensor dimension is (shapes are derived from the config). */
enum gguf_dim { GGUF_DIM_C = 1, GGUF_DIM_I, GGUF_DIM_V, GGUF_DIM_Q, GGUF_DIM_KV };

/* One per-layer tensor: "model.layers.N.<hf>" <-> "blk.N.<gguf>". */
struct gguf_tname {
	const char       *hf;       /* "self_attn.q_proj.weight" */
	const char       *gguf;     /* "attn_q.weight" */
	enum gguf_permute permute;
	enum gguf_dim     rows;     /* HF shape [rows, cols]; cols 0 for a vector */
	enum gguf_dim     cols;
	int               bias;     /* 1: present only with attention_bias, 2: only with mlp_bias */
};

struct gguf_family {
	const char               *model_type;  /* HF config.json model_type */
	const char               *arch;        /* general.architecture */
	const struct gguf_tname  *layer;       /* per-layer tensors */
	size_t                    n_layer;
};

/* The family of an HF model_type, or NULL when llama.cpp has no architecture we write. */
const struct gguf_family *gguf_family_find(const char *model_type);
/* "llama, mistral": the model types gguf_family_find knows, for messages. */
const char *gguf_family_list(void);

/* The tensors outside the layers (same names for every family we write so far). */
#define GGUF_TOKEN_EMBD  "token_embd.weight"   /* model.embed_tokens.weight [V, C] */
#define GGUF_OUTPUT_NORM "output_norm.weight"  /* model.norm.weight [C] */
#define GGUF_OUTPUT      "output.weight"       /* lm_head.weight [V, C], absent when tied */

#endif
