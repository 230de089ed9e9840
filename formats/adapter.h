/* qlora-tools: ISC license. */
/*
 * PEFT LoRA adapters for Llama-family models: a directory holding adapter_config.json and
 * adapter_model.safetensors, as PEFT's save_pretrained writes it. See adapter(5) and
 * shared/reference.md sections 6 and 7.8.
 *
 * In memory an adapter is a table of LoRA pairs, one slot per (layer, module) for the seven
 * linear modules of a Llama layer; a slot with r == 0 is not adapted. Pair (l, m) holds
 *   A [r, in]  (lora_A.weight, row-major f32)    B [out, r]  (lora_B.weight, row-major f32)
 * and the layer computes y = W x + scaling * B (A x), scaling = alpha / r, or alpha / sqrt(r)
 * with use_rslora. Tensor keys in the file:
 *   base_model.model.model.layers.<l>.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight
 *   base_model.model.model.layers.<l>.mlp.{gate,up,down}_proj.lora_{A,B}.weight
 * A model with fused projections (dims.fused, kernels/lora.h's bits) has self_attn.qkv_proj in
 * slot Q (out q_dim + 2 kv_dim: q, k, v rows in that order; Phi-3) and/or mlp.gate_up_proj in
 * slot GATE (out 2 I: gate rows, then up rows; Phi-3, GLM); the slots a fusion leaves (K and V;
 * UP) are never adapted.
 *
 * What is read: the LoRA subset of PEFT's config (r, lora_alpha, lora_dropout, use_rslora,
 * target_modules as a list of names or a regular expression, exclude_modules,
 * layers_to_transform, rank_pattern, alpha_pattern, base_model_name_or_path, task_type) with
 * F32, BF16 or F16 tensors. What is refused (QT_EDATA, the message names the field): a
 * peft_type other than LORA, use_dora, bias other than "none", lora_bias, modules_to_save,
 * fan_in_fan_out true, layer_replication, target_parameters, trainable_token_indices,
 * use_qalora, alora_invocation_tokens, a layers_pattern other than "layers", tensors this
 * layout does not name (lora_embedding_*, lora_magnitude_vector, biases), a targeted module
 * without its tensors, tensors of a module the config does not target, shapes that disagree
 * with the base model, and an adapter_model.bin without safetensors (pickle is never read).
 */
#ifndef QT_FORMATS_ADAPTER_H
#define QT_FORMATS_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/dtype.h"
#include "common/err.h"
#include "kernels/lora.h"

#define ADAPTER_CONFIG_NAME  "adapter_config.json"
#define ADAPTER_WEIGHTS_NAME "adapter_model.safetensors"
#define ADAPTER_PICKLE_NAME  "adapter_model.bin"
/* Our key in a PREFIX_TUNING config: 0 when the sequence's positions start at 0 (ChatGLM's
 * P-Tuning v2); absent when they start after the prefix (PEFT). PEFT warns and ignores it. */
#define ADAPTER_PREFIX_POSITIONS_KEY "qlora_tools_prefix_positions"
/* Beside a PREFIX_TUNING adapter trained with prefix_projection: the projection MLP that made
 * its prompt_embeddings (our file: PEFT reads neither it nor the MLP from a saved adapter), so
 * training can continue through it. Keys as PEFT's PrefixEncoder state_dict. */
#define ADAPTER_PREFIX_MLP_NAME "prefix_encoder.safetensors"
#define ADAPTER_KEY_PREFIX   "base_model.model." /* PeftModel -> LoraModel -> the HF model */

/* The seven adapted linear modules of a Llama layer, in the order used everywhere. */
enum adapter_module {
	ADAPTER_Q, ADAPTER_K, ADAPTER_V, ADAPTER_O, ADAPTER_GATE, ADAPTER_UP, ADAPTER_DOWN,
	ADAPTER_N_MODULES
};
_Static_assert((int)ADAPTER_N_MODULES == LORA_N_MODULES, "module order as kernels/lora.h");

/* "q_proj", ..., "down_proj": the names of an unfused model's modules. */
extern const char *const adapter_module_name[ADAPTER_N_MODULES];
/* "self_attn" for q/k/v/o, "mlp" for gate/up/down. */
extern const char *const adapter_module_block[ADAPTER_N_MODULES];

/* The base model's shapes that decide every pair's in/out (reference.md 6.2). */
struct adapter_dims {
	int n_layers;
	int hidden;        /* H: in of q/k/v/gate/up, out of o/down */
	int intermediate;  /* I: out of gate/up, in of down */
	int q_dim;         /* n_heads * head_dim: out of q, in of o */
	int kv_dim;        /* n_kv_heads * head_dim: out of k and v */
	int fused;         /* LORA_FUSED_QKV | LORA_FUSED_GATE_UP (see the top of this file) */
};

/* in and out features of module m under dims d (0 and 0 for a slot fusion leaves unused). */
void adapter_module_shape(const struct adapter_dims *d, int m, int *in, int *out);
/* The name of module m under d: adapter_module_name[m], "qkv_proj" or "gate_up_proj" when
 * fused, NULL for a slot fusion leaves unused. */
const char *adapter_module_name_of(const struct adapter_dims *d, int m);

/* A "pattern: value" entry of rank_pattern / alpha_pattern, in file order. */
struct adapter_pattern {
	char  *key;    /* PEFT regular expression, matched as (.*\.)?(key)$ from the start */
	double value;
};

/* adapter_config.json, the fields this module understands. Strings are owned. */
struct adapter_config {
	int     r;                      /* default rank (> 0) */
	double  lora_alpha;             /* default alpha */
	double  lora_dropout;           /* training only */
	int     use_rslora;             /* scaling alpha / sqrt(r) */
	char   *base_model_name_or_path;/* NULL when null */
	char   *task_type;              /* NULL when null; written as "CAUSAL_LM" */
	char   *target_regex;           /* target_modules given as a string (full match), or NULL */
	char  **target_names;           /* target_modules given as a list (name or dotted suffix) */
	size_t  n_target_names;
	char   *exclude_regex;          /* exclude_modules, same two forms */
	char  **exclude_names;
	size_t  n_exclude_names;
	int    *layers;                 /* layers_to_transform, or NULL for every layer */
	size_t  n_layers;
	struct adapter_pattern *rank_pattern;
	size_t  n_rank_pattern;
	struct adapter_pattern *alpha_pattern;
	size_t  n_alpha_pattern;
	/* peft_type PREFIX_TUNING (prefix > 0): PrefixTuningConfig's fields; the LoRA ones above
	 * are then unused */
	int     prefix;                 /* num_virtual_tokens, or 0 for a LoRA adapter */
	int     prefix_token_dim;       /* token_dim: kv heads * head_dim */
	int     prefix_layers;          /* num_layers */
	int     prefix_heads;           /* num_attention_heads: the kv heads */
	int     prefix_pos0;            /* qlora_tools_prefix_positions 0 (our key, which PEFT
	                                   ignores): the sequence's positions start at 0, ChatGLM's
	                                   P-Tuning v2, instead of after the prefix */
	int     prefix_projection;      /* prefix_projection: the table was made by the MLP */
	int     prefix_hidden;          /* encoder_hidden_size, or 0 when absent (token_dim) */
};

/* A LoRA adapter (pairs), or a prefix-tuning one: no pairs (all r 0) and prefix, the
 * (prefix_len, n_layers * 2 * kv_dim) prompt_embeddings of PEFT's file (kernels/lora.h). */
struct adapter {
	struct adapter_config cfg;
	struct adapter_dims   dims;
	struct lora_pair  *lora;  /* [dims.n_layers * ADAPTER_N_MODULES] */
	int                prefix_len;
	float             *prefix;
	struct prefix_mlp  mlp;   /* prefix_projection's MLP when it was trained or loaded with
	                             ADAPTER_PREFIX_MLP_NAME (mlp.emb NULL: none); its tensors then
	                             replace the table in adapter_tensors */
};

/* The prefix table's width: n_layers * 2 * kv_dim floats per slot. */
static inline size_t adapter_prefix_width(const struct adapter_dims *d)
{
	return (size_t)d->n_layers * 2 * (size_t)d->kv_dim;
}

/* Every trainable tensor of a in table order (each adapted pair's A then B, then the prefix, or
 * the five tensors of its MLP instead): ptr[i] and its length n[i], for the first max of them;
 * returns how many there are. */
size_t adapter_tensors(const struct adapter *a, float **ptr, size_t *n, size_t max);

/* ---- the prefix projection MLP (formats/adapter_prefix.c) ---- */

/* The MLP's tensors in PEFT's PrefixEncoder order and names: "embedding.weight",
 * "transform.0.weight", "transform.0.bias", "transform.2.weight", "transform.2.bias". */
enum { ADAPTER_MLP_N = 5 };
extern const char *const adapter_mlp_names[ADAPTER_MLP_N];
/* Tensor i of m: its data, and its shape (shape[1] 0 for a bias, a vector). */
float *adapter_mlp_tensor(const struct prefix_mlp *m, int i, int64_t shape[2]);
/* 1 for a bias: the HF Trainer leaves biases out of weight decay. */
int adapter_mlp_is_bias(int i);

/* A zeroed MLP of hidden size H for a's table (D = kv_dim, W = its width) in a->mlp, and
 * cfg.prefix_projection / prefix_hidden set. */
int adapter_mlp_init(struct adapter *a, int H, struct qt_err *err);

/* Writes a->mlp to path (F32 safetensors, adapter_mlp_names). */
int adapter_mlp_save(const struct adapter *a, const char *path, struct qt_err *err);

/* Reads path into a->mlp for a's table (QT_EDATA naming the tensor when one is missing, not
 * F32 or of another shape, or when others are present). */
int adapter_mlp_load(struct adapter *a, const char *path, struct qt_err *err);

/* An adapter of a's shapes, zeroed (gradients, optimizer moments). */
int adapter_like(struct adapter *dst, const struct adapter *a, struct qt_err *err);

/* A prefix-tuning adapter of P slots for dims (zeroed table; heads: the kv heads written as
 * num_attention_heads). */
int adapter_init_prefix(struct adapter *a, int P, const struct adapter_dims *dims, int heads,
                        struct qt_err *err);

/* Pair of layer l, module m. */
static inline struct lora_pair *adapter_at(const struct adapter *a, int l, int m)
{
	return &a->lora[(size_t)l * ADAPTER_N_MODULES + (size_t)m];
}

/* The model's view of a (kernels/lora.h): the same pairs, prefix and projection MLP, not
 * copied, in t; NULL when a is. */
static inline struct lora_table *adapter_table(const struct adapter *a, struct lora_table *t)
{
	if (!a)
		return NULL;
	*t = (struct lora_table){ .n_layers = a->dims.n_layers, .pairs = a->lora,
	                          .prefix_len = a->prefix_len, .prefix = a->prefix,
	                          .prefix_pos0 = a->prefix ? a->cfg.prefix_pos0 : 0,
	                          .prefix_width = a->prefix ? adapter_prefix_width(&a->dims) : 0,
	                          .mlp = a->mlp };
	return t;
}
/* adapter_table with a view living to the end of the enclosing block (for an argument). */
#define ADAPTER_TABLE(a) adapter_table((a), &(struct lora_table){ 0 })

/* ---- adapter_config.json ---- */

/*
 * Parses a config held in json[0..len) (name is used in messages). Applies PEFT's defaults for
 * absent fields (r 8, lora_alpha 8, dropout 0). QT_EDATA naming the field for anything refused
 * (see the file comment); c is left empty on failure.
 */
int adapter_config_parse(struct adapter_config *c, const char *json, size_t len,
                         const char *name, struct qt_err *err);
void adapter_config_free(struct adapter_config *c);

/* PEFT's module name of a pair: "model.layers.<l>.<block>.<module>" into buf (size n); an
 * empty string for a slot fusion leaves unused. */
void adapter_module_path(char *buf, size_t n, const struct adapter_dims *d, int l, int m);

/*
 * 1 when the config targets module m of layer l (PEFT's check_target_module_exists:
 * exclude_modules first, then a string target as a full regex match, or a list entry equal to
 * the module path or a dotted suffix of it; then layers_to_transform). 0 when not, -1 with err
 * set when a regular expression does not compile.
 */
int adapter_config_targets(const struct adapter_config *c, const struct adapter_dims *d, int l,
                           int m, struct qt_err *err);

/* Rank and alpha of module (l, m) after rank_pattern / alpha_pattern (first matching key in
 * file order, PEFT's get_pattern_key). 0, or -1 with err set on a bad regular expression. */
int adapter_config_rank_alpha(const struct adapter_config *c, const struct adapter_dims *d,
                              int l, int m, int *r, double *alpha, struct qt_err *err);

/* scaling for rank r and alpha: alpha / r, or alpha / sqrt(r) (use_rslora), rounded to f32. */
float adapter_scaling(double alpha, int r, int use_rslora);

/*
 * The JSON text adapter_save writes (malloc'd, NUL-terminated): the fields every PEFT version
 * since 0.7 reads (reference.md 6.1: no use_dora, layers_pattern, ...; rank_pattern and
 * alpha_pattern only when not empty), keys sorted, indent 2, no trailing newline. target_modules is the
 * list of short names when every adapted layer adapts the same modules, else the full module
 * paths; rank_pattern / alpha_pattern hold full module paths for pairs whose r / alpha differ
 * from cfg.r / cfg.lora_alpha. NULL on out of memory.
 */
char *adapter_config_dump(const struct adapter *a);

/* ---- whole adapters ---- */

/*
 * Loads dir/adapter_config.json and dir/adapter_model.safetensors into a. With base != NULL
 * every pair's shape must match the base's (and layer indices be < n_layers); with NULL the
 * dims are inferred from the tensors (dims the adapter does not touch stay 0). Tensors are
 * converted to f32. QT_ENOINPUT when dir or the config is missing, or when neither weights
 * file exists; QT_EDATA for everything refused (an adapter_model.bin alone included);
 * a is left empty on failure.
 */
int adapter_load(struct adapter *a, const char *dir, const struct adapter_dims *base,
                 struct qt_err *err);

/*
 * Creates an adapter for training: copies cfg (deep), and for every (l, m) the config
 * targets allocates zeroed A [r, in] and B [out, r] with the pair's rank, alpha and scaling.
 * QT_EUSAGE for a bad cfg (r <= 0, no target matches), QT_ESOFTWARE on out of memory.
 */
int adapter_init(struct adapter *a, const struct adapter_config *cfg,
                 const struct adapter_dims *dims, struct qt_err *err);

/*
 * Writes a as a PEFT adapter directory dir (atomically: built beside it, then renamed):
 * adapter_config.json (adapter_config_dump) and adapter_model.safetensors with tensors in
 * dtype (QT_DTYPE_F32, BF16 or F16; bf16/f16 round to nearest even) and metadata
 * {"format": "pt"}. QT_EUSAGE for another dtype, QT_ECANTCREAT / QT_EIO on file errors.
 */
int adapter_save(const struct adapter *a, const char *dir, enum qt_dtype dtype,
                 struct qt_err *err);

void adapter_free(struct adapter *a);

/* Number of LoRA parameters (sum of r * (in + out) over adapted pairs). */
size_t adapter_n_params(const struct adapter *a);

#endif
