/* qlora-tools: ISC license. Documented in man/man5/gguf.5. */
/* Not a file format of its own: the llama.cpp naming that gguf(5) (man/man5/gguf.5)
 * documents. */
/*
 * llama.cpp's architecture names and tensor names for the HF model families we write
 * (gguf-py constants.py MODEL_ARCH_NAMES and tensor_mapping.py; convert_hf_to_gguf.py), as
 * tables: adding a family is one gguf_family entry (its HF model_type, the llama.cpp
 * architecture, its per-layer tensor names, which rows llama.cpp permutes and flags for what
 * the architecture does differently). Used by export-gguf (jobs/export_gguf.c) and
 * import-gguf (jobs/import_gguf.c).
 */
#ifndef QT_FORMATS_GGUF_ARCH_H
#define QT_FORMATS_GGUF_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/gguf.h"
#include "formats/hfconfig.h"

/* How llama.cpp stores a tensor's rows relative to HF. */
enum gguf_permute {
	GGUF_PERMUTE_NONE = 0,
	GGUF_PERMUTE_Q,   /* Q rows interleaved per head for rope NORMAL, H = num_attention_heads */
	GGUF_PERMUTE_K,   /* the same for K, H = num_key_value_heads */
};

/* Which config dimension a tensor dimension is (shapes are derived from the config). */
enum gguf_dim {
	GGUF_DIM_C = 1,   /* hidden_size */
	GGUF_DIM_I,       /* intermediate_size */
	GGUF_DIM_V,       /* vocab_size */
	GGUF_DIM_Q,       /* num_attention_heads * head_dim */
	GGUF_DIM_KV,      /* num_key_value_heads * head_dim */
	GGUF_DIM_HD,      /* head_dim (qwen3's q_norm, k_norm) */
	GGUF_DIM_QKV,     /* Q + 2 KV (phi3's fused qkv_proj) */
	GGUF_DIM_I2,      /* 2 intermediate_size (fused gate_up_proj) */
};

/* One per-layer tensor: "model.layers.N.<hf>" <-> "blk.N.<gguf>". */
struct gguf_tname {
	const char       *hf;       /* "self_attn.q_proj.weight" */
	const char       *gguf;     /* "attn_q.weight" */
	enum gguf_permute permute;
	enum gguf_dim     rows;     /* HF shape [rows, cols]; cols 0 for a vector */
	enum gguf_dim     cols;
	int               bias;     /* 0: always present; 1 + k: the bias of linear module k
	                               (kernels/lora.h's order q k v o gate up down), present
	                               when hf_config_has_bias says so */
};

/* Family flags: what llama.cpp's architecture does or lacks. */
#define GGUF_FAM_NORM_PLUS_ONE 1  /* every *norm.weight is stored as 1 + w (gemma) */
#define GGUF_FAM_TIED          2  /* output is always token_embd: lm_head must be tied */
#define GGUF_FAM_SQUARE_O      4  /* attn_output is [C, C]: heads * head_dim must be C */
#define GGUF_FAM_SWA           8  /* per-layer sliding windows (sliding_window and
                                     sliding_window_pattern); without it a window shorter
                                     than the context is refused */
#define GGUF_FAM_SOFTCAP      16  /* gemma2: attn/final logit soft caps, fixed query scale */
#define GGUF_FAM_PARTIAL_ROPE 32  /* rope.dimension_count may be below head_dim */

struct gguf_family {
	const char               *model_type;  /* HF config.json model_type */
	const char               *arch;        /* general.architecture */
	const char               *hf_arch;     /* config.json architectures[0] */
	const struct gguf_tname  *layer;       /* per-layer tensors */
	size_t                    n_layer;
	unsigned                  flags;       /* GGUF_FAM_* */
};

/* The family of an HF model_type, or NULL when llama.cpp has no architecture we write. */
const struct gguf_family *gguf_family_find(const char *model_type);
/* The family whose llama.cpp architecture is arch (the first such: llama for "llama"). */
const struct gguf_family *gguf_family_of_arch(const char *arch);
/* "llama, mistral, ...": the model types gguf_family_find knows, for messages. */
const char *gguf_family_list(void);
/* "llama, qwen2, ...": the architectures, for messages. */
const char *gguf_arch_list(void);

/* ---- keys (formats/gguf_arch_kv.c) ---- */

/* QT_EDATA "dir/config.json: key: why" for what llama.cpp's architecture fam cannot compute as
 * the model c does (a sliding window shorter than the context outside gemma2, heads * head_dim
 * other than hidden_size where attn_output is square, an untied gemma, partial rotary outside
 * phi3/glm/glm4, gemma2's query scale, sliding layers and soft caps); QT_OK otherwise. */
int gguf_arch_check(const struct gguf_family *fam, const struct hf_config *c, const char *dir,
                    struct qt_err *err);
/* Adds general.architecture, general.type (type), general.name (dir's base name) to w. */
int gguf_arch_put_general(struct gguf_writer *w, const struct gguf_family *fam, const char *type,
                          const char *dir, struct qt_err *err);
/* Adds general.* and <arch>.* for model c as convert_hf_to_gguf.py's set_gguf_parameters
 * write them (block_count, context_length, ..., rope.dimension_count, gemma2's soft caps and
 * sliding window pattern, phi3's sliding_window), general.file_type ftype (a llama_ftype) and
 * general.quantization_version 2. QT_EDATA for a value that does not fit its key's type. */
int gguf_arch_put(struct gguf_writer *w, const struct gguf_family *fam, const struct hf_config *c,
                  const char *dir, uint32_t ftype, struct qt_err *err);

/* The tensors outside the layers (same names for every family we write so far). */
#define GGUF_TOKEN_EMBD  "token_embd.weight"   /* model.embed_tokens.weight [V, C] */
#define GGUF_OUTPUT_NORM "output_norm.weight"  /* model.norm.weight [C] */
#define GGUF_OUTPUT      "output.weight"       /* lm_head.weight [V, C], absent when tied */

#endif
