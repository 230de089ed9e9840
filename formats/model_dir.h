/* qlora-tools: ISC license. Documented in man/man5/model-dir.5. */
/* Not a file format of its own: documented in model-dir(5), man/man5/model-dir.5. */
/*
 * A HuggingFace model directory (model-dir(5)): config.json, the weights (model.safetensors or
 * shards + model.safetensors.index.json), tokenizer.json, and optionally tokenizer_config.json
 * and generation_config.json. This module opens one, checks that the tensors a Llama forward
 * pass needs are present with the shapes config.json implies, and gives the engine named
 * access to them: dtype, shape, a pointer into the mapping, or a float32 copy.
 * It does not load the tokenizer (formats/tokenizer.h does, from tokenizer_path).
 */
#ifndef QT_FORMATS_MODEL_DIR_H
#define QT_FORMATS_MODEL_DIR_H

#include <stddef.h>

#include "common/err.h"
#include "formats/hfconfig.h"
#include "formats/safetensors.h"

#define MODEL_DIR_TOKENIZER        "tokenizer.json"
#define MODEL_DIR_TOKENIZER_CONFIG "tokenizer_config.json"

/* Flags for model_dir_open. */
enum {
	/* Do not check tensor names and shapes (e.g. a quantized directory whose linear weights
	 * are stored in another layout; the caller checks). */
	MODEL_DIR_NO_TENSOR_CHECK = 1 << 0,
	/* Do not require tokenizer.json. */
	MODEL_DIR_NO_TOKENIZER    = 1 << 1,
	/* The caller computes with the model (gen, lora-train): refuse the config keys the
	 * compute would ignore (hf_config_check_compute) before looking at the tensors. */
	MODEL_DIR_COMPUTE         = 1 << 2,
};

struct model_dir {
	char            *path;
	struct hf_config config;
	struct st_set    weights;
	char            *config_path;
	char            *tokenizer_path;          /* NULL only with MODEL_DIR_NO_TOKENIZER */
	char            *tokenizer_config_path;   /* NULL when absent */
	char            *generation_config_path;  /* NULL when absent */
};

/*
 * Opens dir. QT_ENOINPUT when dir, config.json, the weights or tokenizer.json are missing;
 * QT_EDATA for a bad config, bad safetensors, or (unless MODEL_DIR_NO_TENSOR_CHECK) a missing
 * tensor, a tensor of the wrong shape or a non-float dtype: "dir: tensor NAME: what".
 */
int model_dir_open(struct model_dir *m, const char *dir, int flags, struct qt_err *err);
void model_dir_close(struct model_dir *m);

/* Tensor by HF name ("model.layers.0.self_attn.q_proj.weight"), or NULL. For a tied model
 * "lm_head.weight" resolves to "model.embed_tokens.weight". */
const struct st_tensor *model_dir_tensor(const struct model_dir *m, const char *name);

/* Copies tensor name into dst as float32 (exact for F32/F16/BF16). n must equal its element
 * count. QT_EDATA when absent or when n differs. */
int model_dir_tensor_f32(const struct model_dir *m, const char *name, float *dst, size_t n,
                         struct qt_err *err);

/* Checks the Llama tensor set against the config (run by model_dir_open unless disabled). */
int model_dir_check_llama(const struct model_dir *m, struct qt_err *err);

/* Copies tokenizer.json, tokenizer_config.json, generation_config.json and
 * special_tokens_map.json (those present) from m into dst_dir, atomically per file. */
int model_dir_copy_aux(const struct model_dir *m, const char *dst_dir, struct qt_err *err);

#endif
