/* qlora-tools: ISC license. */
/* HF config.json / generation_config.json for Llama-family models; see hfconfig.h. */
#include "formats/hfconfig.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io.h"
#include "common/pyfloat.h"

/* LlamaConfig defaults (transformers models/llama/configuration_llama.py). */
void hf_config_defaults(struct hf_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->architecture, sizeof c->architecture, "LlamaForCausalLM");
	snprintf(c->model_type, sizeof c->model_type, "llama");
	c->vocab_size = 32000;
	c->hidden_size = 4096;
	c->intermediate_size = 11008;
	c->num_hidden_layers = 32;
	c->num_attention_heads = 32;
	c->max_position_embeddings = 2048;
	c->rms_norm_eps = 1e-6;
	c->rope_theta = 10000.0;
	c->initializer_range = 0.02;
	c->partial_rotary_factor = 1.0;
	c->bos = (struct hf_token_ids){ .n = 1, .id = { 1 } };
	c->eos = (struct hf_token_ids){ .n = 1, .id = { 2 } };
}

/* The defaults of MistralConfig and Qwen2Config where they differ from LlamaConfig's. */
static void family_defaults(struct hf_config *c, const char *model_type)
{
	if (strcmp(model_type, "mistral") == 0) {
		snprintf(c->architecture, sizeof c->architecture, "MistralForCausalLM");
		c->intermediate_size = 14336;
		c->num_key_value_heads = 8;
		c->max_position_embeddings = 4096 * 32;
		c->sliding_window = 4096;
	} else if (strcmp(model_type, "gemma") == 0) {
		snprintf(c->architecture, sizeof c->architecture, "GemmaForCausalLM");
		c->vocab_size = 256000;
		c->hidden_size = 3072;
		c->intermediate_size = 24576;
		c->num_hidden_layers = 28;
		c->num_attention_heads = 16;
		c->max_position_embeddings = 8192;
		c->tie_word_embeddings = 1;
		c->gelu_tanh = 1;
		c->bos = (struct hf_token_ids){ .n = 1, .id = { 2 } };
		c->eos = (struct hf_token_ids){ .n = 1, .id = { 1 } };
		c->pad = (struct hf_token_ids){ .n = 1, .id = { 0 } };
	} else if (strcmp(model_type, "glm") == 0 || strcmp(model_type, "glm4") == 0) {
		snprintf(c->architecture, sizeof c->architecture, model_type[3] ? "Glm4ForCausalLM" :
		         "GlmForCausalLM");
		c->vocab_size = 151552;
		c->intermediate_size = 13696;
		c->num_hidden_layers = 40;
		c->num_key_value_heads = 2;
		c->head_dim = 128;
		c->max_position_embeddings = 131072;
		c->rms_norm_eps = 1.5625e-07;
		c->attention_bias = 1;
		c->partial_rotary_factor = 0.5; /* GlmConfig's setdefault */
		c->bos.n = c->eos.n = 0;
		c->pad = (struct hf_token_ids){ .n = 1, .id = { 151329 } };
	} else if (strcmp(model_type, "phi3") == 0) {
		snprintf(c->architecture, sizeof c->architecture, "Phi3ForCausalLM");
		c->vocab_size = 32064;
		c->hidden_size = 3072;
		c->intermediate_size = 8192;
		c->max_position_embeddings = 4096;
		c->rms_norm_eps = 1e-5;
		c->eos = (struct hf_token_ids){ .n = 1, .id = { 32000 } };
		c->pad = (struct hf_token_ids){ .n = 1, .id = { 32000 } };
	} else if (strcmp(model_type, "gemma2") == 0) {
		snprintf(c->architecture, sizeof c->architecture, "Gemma2ForCausalLM");
		c->vocab_size = 256000;
		c->hidden_size = 2304;
		c->intermediate_size = 9216;
		c->num_hidden_layers = 26;
		c->num_attention_heads = 8;
		c->num_key_value_heads = 4;
		c->max_position_embeddings = 8192;
		c->tie_word_embeddings = 1;
		c->gelu_tanh = 1;
		c->sliding_window = 4096;
		c->query_pre_attn_scalar = 256;
		c->attn_logit_softcapping = 50;
		c->final_logit_softcapping = 30;
		c->bos = (struct hf_token_ids){ .n = 1, .id = { 2 } };
		c->eos = (struct hf_token_ids){ .n = 1, .id = { 1 } };
		c->pad = (struct hf_token_ids){ .n = 1, .id = { 0 } };
	} else if (strcmp(model_type, "qwen2") == 0 || strcmp(model_type, "qwen3") == 0) {
		snprintf(c->architecture, sizeof c->architecture, model_type[4] == '2' ?
		         "Qwen2ForCausalLM" : "Qwen3ForCausalLM");
		c->vocab_size = 151936;
		c->intermediate_size = 22016;
		c->max_position_embeddings = 32768;
		c->sliding_window = 4096;
		c->max_window_layers = 28;
		c->bos.n = c->eos.n = 0;
	}
	snprintf(c->model_type, sizeof c->model_type, "%s", model_type);
}

static int is_qwen(const struct hf_config *c)
{
	return strcmp(c->model_type, "qwen2") == 0 || strcmp(c->model_type, "qwen3") == 0;
}

static int is_glm(const struct hf_config *c)
{
	return strcmp(c->model_type, "glm") == 0 || strcmp(c->model_type, "glm4") == 0;
}

static int is_gemma(const struct hf_config *c)
{
	return strcmp(c->model_type, "gemma") == 0 || strcmp(c->model_type, "gemma2") == 0;
}

int hf_config_has_bias(const struct hf_config *c, int module)
{
	if (strcmp(c->model_type, "phi3") == 0)
		return 0; /* Phi3's projections are built without a bias whatever the config says */
	if (is_glm(c))
		return module < 3 && c->attention_bias; /* q, k, v; o_proj never has one */
	if (strcmp(c->model_type, "qwen2") == 0)
		return module < 3;
	if (strcmp(c->model_type, "qwen3") == 0 || is_gemma(c))
		return module < 4 && c->attention_bias;
	return module < 4 ? c->attention_bias : c->mlp_bias;
}

int hf_config_has_qk_norm(const struct hf_config *c)
{
	return strcmp(c->model_type, "qwen3") == 0;
}

int hf_config_norm_plus_one(const struct hf_config *c)
{
	return is_gemma(c);
}

float hf_config_embed_scale(const struct hf_config *c)
{
	return is_gemma(c) ? (float)sqrt((double)c->hidden_size) : 0.0f;
}

struct hf_norm_names hf_config_norm_names(const struct hf_config *c)
{
	if (strcmp(c->model_type, "gemma2") == 0)
		return (struct hf_norm_names){ "input_layernorm", "post_attention_layernorm",
		                               "pre_feedforward_layernorm",
		                               "post_feedforward_layernorm" };
	if (strcmp(c->model_type, "glm4") == 0)
		return (struct hf_norm_names){ "input_layernorm", "post_self_attn_layernorm",
		                               "post_attention_layernorm", "post_mlp_layernorm" };
	return (struct hf_norm_names){ "input_layernorm", NULL, "post_attention_layernorm", NULL };
}

int64_t hf_config_rotary_dim(const struct hf_config *c)
{
	return (int64_t)((double)c->head_dim * c->partial_rotary_factor);
}

int hf_config_rope_interleaved(const struct hf_config *c)
{
	return is_glm(c);
}

int hf_config_fused(const struct hf_config *c)
{
	if (strcmp(c->model_type, "phi3") == 0)
		return LORA_FUSED_QKV | LORA_FUSED_GATE_UP;
	return is_glm(c) ? LORA_FUSED_GATE_UP : 0;
}

int64_t hf_config_layer_window(const struct hf_config *c, int64_t layer)
{
	if (strcmp(c->model_type, "mistral") == 0 || strcmp(c->model_type, "phi3") == 0)
		return c->sliding_window;
	if (strcmp(c->model_type, "gemma2") == 0) {
		int sliding = c->n_layer_types ? c->layer_sliding[layer] : layer % 2 == 0;
		return sliding ? c->sliding_window : 0;
	}
	if (!is_qwen(c) || !c->use_sliding_window)
		return 0;
	int sliding = c->n_layer_types ? c->layer_sliding[layer] : layer >= c->max_window_layers;
	return sliding ? c->sliding_window : 0;
}

/* ---- reading ---- */

#define FAIL(...) do { st = qt_err_set(err, QT_EDATA, __VA_ARGS__); goto out; } while (0)

/* Reads an optional positive (or >= 0 when allow0) integer field. */
static int get_int(json_t *root, const char *key, int64_t *out, int allow0, const char *name,
                   struct qt_err *err)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v))
		return QT_OK;
	if (!json_is_integer(v) || json_integer_value(v) < (allow0 ? 0 : 1))
		return qt_err_set(err, QT_EDATA, "%s: %s: expected a %s integer", name, key,
		                  allow0 ? "non-negative" : "positive");
	*out = json_integer_value(v);
	return QT_OK;
}

static int get_real(json_t *obj, const char *key, double *out, const char *name, const char *pfx,
                    struct qt_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return QT_OK;
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return qt_err_set(err, QT_EDATA, "%s: %s%s: expected a number", name, pfx, key);
	*out = json_number_value(v);
	return QT_OK;
}

static int get_bool(json_t *root, const char *key, int *out, const char *name, struct qt_err *err)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v))
		return QT_OK;
	if (!json_is_boolean(v))
		return qt_err_set(err, QT_EDATA, "%s: %s: expected true or false", name, key);
	*out = json_is_true(v);
	return QT_OK;
}

/* Token id fields are int, list of ints, or null (Llama 3 uses a list of eos ids). */
static int get_ids(json_t *root, const char *key, struct hf_token_ids *ids, const char *name,
                   struct qt_err *err)
{
	json_t *v = json_object_get(root, key);
	if (!v)
		return QT_OK;
	memset(ids, 0, sizeof *ids);
	if (json_is_null(v))
		return QT_OK;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		ids->n = 1;
		ids->id[0] = json_integer_value(v);
		return QT_OK;
	}
	if (!json_is_array(v) || json_array_size(v) > HF_MAX_TOKEN_IDS)
		return qt_err_set(err, QT_EDATA, "%s: %s: expected an id, a list of at most %d ids, or "
		                  "null", name, key, HF_MAX_TOKEN_IDS);
	ids->is_list = 1;
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *e = json_array_get(v, i);
		if (!json_is_integer(e) || json_integer_value(e) < 0)
			return qt_err_set(err, QT_EDATA, "%s: %s[%zu]: expected a token id", name, key, i);
		ids->id[ids->n++] = json_integer_value(e);
	}
	return QT_OK;
}

/* rope_scaling (classic) or rope_parameters (transformers 5): type and factors. */
static int get_rope(json_t *rs, const char *field, struct hf_config *c, const char *name,
                    struct qt_err *err)
{
	if (!rs || json_is_null(rs))
		return QT_OK;
	if (!json_is_object(rs))
		return qt_err_set(err, QT_EDATA, "%s: %s: expected an object or null", name, field);
	json_t *t = json_object_get(rs, "rope_type");
	if (!t)
		t = json_object_get(rs, "type");
	const char *ty = json_string_value(t);
	char pfx[64];
	snprintf(pfx, sizeof pfx, "%s.", field);
	int st = get_real(rs, "rope_theta", &c->rope_theta, name, pfx, err);
	if (!st)
		st = get_real(rs, "partial_rotary_factor", &c->partial_rotary_factor, name, pfx, err);
	if (st)
		return st;
	if (!ty && !json_object_get(rs, "rope_theta"))
		return qt_err_set(err, QT_EDATA, "%s: %s.rope_type: missing", name, field);
	if (!ty || strcmp(ty, "default") == 0) {
		c->rope_scaling.type = HF_ROPE_DEFAULT;
		return QT_OK;
	}
	if (strcmp(ty, "linear") == 0)
		c->rope_scaling.type = HF_ROPE_LINEAR;
	else if (strcmp(ty, "llama3") == 0)
		c->rope_scaling.type = HF_ROPE_LLAMA3;
	else
		return qt_err_set(err, QT_EDATA, "%s: %s.rope_type: \"%s\" is not supported (default, "
		                  "linear, llama3)", name, field, ty);
	c->rope_scaling.factor = 0;
	if ((st = get_real(rs, "factor", &c->rope_scaling.factor, name, pfx, err)))
		return st;
	if (!(c->rope_scaling.factor >= 1.0))
		return qt_err_set(err, QT_EDATA, "%s: %s.factor: expected a number >= 1", name, field);
	if (c->rope_scaling.type == HF_ROPE_LLAMA3) {
		c->rope_scaling.low_freq_factor = c->rope_scaling.high_freq_factor = 0;
		if ((st = get_real(rs, "low_freq_factor", &c->rope_scaling.low_freq_factor, name, pfx, err)) ||
		    (st = get_real(rs, "high_freq_factor", &c->rope_scaling.high_freq_factor, name, pfx, err)) ||
		    (st = get_int(rs, "original_max_position_embeddings",
		                  &c->rope_scaling.original_max_position_embeddings, 0, name, err)))
			return st;
		if (!(c->rope_scaling.low_freq_factor > 0) ||
		    !(c->rope_scaling.high_freq_factor > c->rope_scaling.low_freq_factor) ||
		    c->rope_scaling.original_max_position_embeddings <= 0)
			return qt_err_set(err, QT_EDATA, "%s: %s: llama3 needs low_freq_factor > 0, "
			                  "high_freq_factor > low_freq_factor and "
			                  "original_max_position_embeddings", name, field);
	}
	return QT_OK;
}

/* Qwen2's use_sliding_window, max_window_layers and layer_types; Gemma-2's layer_types. */
static int get_layer_windows(json_t *root, struct hf_config *c, const char *name,
                             struct qt_err *err)
{
	int st;
	if ((st = get_bool(root, "use_sliding_window", &c->use_sliding_window, name, err)) ||
	    (st = get_int(root, "max_window_layers", &c->max_window_layers, 1, name, err)))
		return st;
	if (strcmp(c->model_type, "gemma2") == 0)
		c->use_sliding_window = 1; /* no such key: the window is on wherever layer_types says */
	json_t *lt = json_object_get(root, "layer_types");
	if (!lt || json_is_null(lt))
		return QT_OK;
	if (!json_is_array(lt) || (int64_t)json_array_size(lt) != c->num_hidden_layers ||
	    json_array_size(lt) > HF_MAX_LAYER_TYPES)
		return qt_err_set(err, QT_EDATA, "%s: layer_types: expected a list of %lld strings "
		                  "(one per layer, at most %d)", name, (long long)c->num_hidden_layers,
		                  HF_MAX_LAYER_TYPES);
	for (size_t i = 0; i < json_array_size(lt); i++) {
		const char *s = json_string_value(json_array_get(lt, i));
		if (!s || (strcmp(s, "full_attention") && strcmp(s, "sliding_attention")))
			return qt_err_set(err, QT_EDATA, "%s: layer_types[%zu]: expected "
			                  "\"full_attention\" or \"sliding_attention\"", name, i);
		c->layer_sliding[i] = s[0] == 's';
		/* Qwen2: transformers keeps sliding_window only with use_sliding_window: a sliding
		 * layer without it has no window to use */
		if (c->layer_sliding[i] && (!c->use_sliding_window || !c->sliding_window))
			return qt_err_set(err, QT_EDATA, "%s: layer_types[%zu]: \"sliding_attention\" "
			                  "without use_sliding_window and a sliding_window is not "
			                  "supported", name, i);
	}
	c->n_layer_types = (int)json_array_size(lt);
	return QT_OK;
}

int hf_config_parse(const char *text, size_t len, const char *name, struct hf_config *c,
                    struct qt_err *err)
{
	hf_config_defaults(c);
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return qt_err_set(err, QT_EDATA, "%s:%d: %s", name, je.line, je.text);
	int st = QT_OK;
	if (!json_is_object(root))
		FAIL("%s: not a JSON object", name);
	json_t *mt = json_object_get(root, "model_type");
	if (!json_is_string(mt))
		FAIL("%s: model_type: missing or not a string", name);
	const char *mts = json_string_value(mt);
	if (strcmp(mts, "llama") != 0 && strcmp(mts, "mistral") != 0 && strcmp(mts, "qwen2") != 0 &&
	    strcmp(mts, "qwen3") != 0 && strcmp(mts, "gemma") != 0 && strcmp(mts, "gemma2") != 0 &&
	    strcmp(mts, "phi3") != 0 && strcmp(mts, "glm") != 0 && strcmp(mts, "glm4") != 0)
		FAIL("%s: model_type: \"%s\" is not supported (llama, mistral, qwen2, qwen3, gemma, "
		     "gemma2, phi3, glm, glm4)", name, mts);
	family_defaults(c, mts);
	json_t *ar = json_object_get(root, "architectures");
	if (ar && !json_is_null(ar)) {
		const char *a = json_string_value(json_array_get(ar, 0));
		if (!json_is_array(ar) || json_array_size(ar) != 1 || !a)
			FAIL("%s: architectures: expected a list of one string", name);
		if (strcmp(a, "LlamaForCausalLM") != 0 && strcmp(a, "MistralForCausalLM") != 0 &&
		    strcmp(a, "Qwen2ForCausalLM") != 0 && strcmp(a, "Qwen3ForCausalLM") != 0 &&
		    strcmp(a, "GemmaForCausalLM") != 0 && strcmp(a, "Gemma2ForCausalLM") != 0 &&
		    strcmp(a, "Phi3ForCausalLM") != 0 && strcmp(a, "GlmForCausalLM") != 0 &&
		    strcmp(a, "Glm4ForCausalLM") != 0)
			FAIL("%s: architectures: \"%s\" is not supported (LlamaForCausalLM, "
			     "MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, GemmaForCausalLM, "
			     "Gemma2ForCausalLM, Phi3ForCausalLM, GlmForCausalLM, Glm4ForCausalLM)", name,
			     a);
		snprintf(c->architecture, sizeof c->architecture, "%s", a);
	}
	json_t *act = json_object_get(root, "hidden_act");
	if (strcmp(mts, "gemma") == 0) {
		/* GemmaConfig turns "gelu" into "gelu_pytorch_tanh" */
		const char *a = act ? json_string_value(act) : "gelu_pytorch_tanh";
		if (!a || (strcmp(a, "gelu_pytorch_tanh") && strcmp(a, "gelu")))
			FAIL("%s: hidden_act: only \"gelu_pytorch_tanh\" (or \"gelu\") is supported for "
			     "gemma", name);
		json_t *bi = json_object_get(root, "use_bidirectional_attention");
		if (bi && !json_is_null(bi) && !json_is_false(bi))
			FAIL("%s: use_bidirectional_attention: only false or null is supported (causal "
			     "attention)", name);
	} else if (strcmp(mts, "gemma2") == 0) {
		/* Gemma2MLP reads hidden_activation (ACT2FN: "gelu" would be the exact erf gelu);
		 * hidden_act, which Gemma-2 checkpoints also write, is not read */
		json_t *ha = json_object_get(root, "hidden_activation");
		const char *a = ha && !json_is_null(ha) ? json_string_value(ha) : "gelu_pytorch_tanh";
		if (!a || strcmp(a, "gelu_pytorch_tanh"))
			FAIL("%s: hidden_activation: only \"gelu_pytorch_tanh\" is supported for gemma2",
			     name);
		json_t *bi = json_object_get(root, "use_bidirectional_attention");
		if (bi && !json_is_null(bi) && !json_is_false(bi))
			FAIL("%s: use_bidirectional_attention: only false or null is supported (causal "
			     "attention)", name);
	} else if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu") != 0)) {
		FAIL("%s: hidden_act: only \"silu\" is supported", name);
	}
	if ((st = get_int(root, "vocab_size", &c->vocab_size, 0, name, err)) ||
	    (st = get_int(root, "hidden_size", &c->hidden_size, 0, name, err)) ||
	    (st = get_int(root, "intermediate_size", &c->intermediate_size, 0, name, err)) ||
	    (st = get_int(root, "num_hidden_layers", &c->num_hidden_layers, 0, name, err)) ||
	    (st = get_int(root, "num_attention_heads", &c->num_attention_heads, 0, name, err)) ||
	    (st = get_int(root, "max_position_embeddings", &c->max_position_embeddings, 0, name, err)) ||
	    (st = get_int(root, "sliding_window", &c->sliding_window, 1, name, err)))
		goto out;
	if (json_is_null(json_object_get(root, "sliding_window")))
		c->sliding_window = 0;
	/* MistralConfig, Gemma2Config and GlmConfig default num_key_value_heads to a number of
	 * their own */
	if ((strcmp(mts, "mistral") != 0 && strcmp(mts, "gemma2") != 0 && !is_glm(c)) ||
	    !c->num_key_value_heads)
		c->num_key_value_heads = c->num_attention_heads;
	c->head_dim = c->num_attention_heads ? c->hidden_size / c->num_attention_heads : 0;
	if (is_glm(c))
		c->head_dim = 128; /* GlmConfig's */
	else if (strcmp(mts, "qwen3") == 0)
		c->head_dim = 128; /* Qwen3Config's default, not hidden / heads */
	else if (strcmp(mts, "gemma") == 0 || strcmp(mts, "gemma2") == 0)
		c->head_dim = 256; /* GemmaConfig's, Gemma2Config's */
	else if (c->num_attention_heads && c->hidden_size % c->num_attention_heads &&
	    !json_object_get(root, "head_dim"))
		FAIL("%s: head_dim: missing and hidden_size %lld is not a multiple of "
		     "num_attention_heads %lld", name, (long long)c->hidden_size,
		     (long long)c->num_attention_heads);
	if ((st = get_int(root, "num_key_value_heads", &c->num_key_value_heads, 0, name, err)) ||
	    (st = get_int(root, "head_dim", &c->head_dim, 0, name, err)) ||
	    (st = get_real(root, "rms_norm_eps", &c->rms_norm_eps, name, "", err)) ||
	    (st = get_real(root, "rope_theta", &c->rope_theta, name, "", err)) ||
	    (st = get_real(root, "initializer_range", &c->initializer_range, name, "", err)) ||
	    (st = get_real(root, "attention_dropout", &c->attention_dropout, name, "", err)) ||
	    (st = get_real(root, "resid_pdrop", &c->resid_pdrop, name, "", err)) ||
	    (st = get_real(root, "partial_rotary_factor", &c->partial_rotary_factor, name, "", err)) ||
	    (st = get_bool(root, "tie_word_embeddings", &c->tie_word_embeddings, name, err)) ||
	    (st = get_bool(root, "attention_bias", &c->attention_bias, name, err)) ||
	    (st = get_bool(root, "mlp_bias", &c->mlp_bias, name, err)) ||
	    (st = get_ids(root, "bos_token_id", &c->bos, name, err)) ||
	    (st = get_ids(root, "eos_token_id", &c->eos, name, err)) ||
	    (st = get_ids(root, "pad_token_id", &c->pad, name, err)) ||
	    (st = get_rope(json_object_get(root, "rope_scaling"), "rope_scaling", c, name, err)) ||
	    (st = get_rope(json_object_get(root, "rope_parameters"), "rope_parameters", c, name, err)))
		goto out;
	if (strcmp(mts, "qwen2") == 0 || strcmp(mts, "qwen3") == 0 || strcmp(mts, "gemma2") == 0) {
		if ((st = get_layer_windows(root, c, name, err)))
			goto out;
	}
	if (strcmp(mts, "gemma2") == 0) {
		if ((st = get_real(root, "query_pre_attn_scalar", &c->query_pre_attn_scalar, name, "",
		                   err)) ||
		    (st = get_real(root, "attn_logit_softcapping", &c->attn_logit_softcapping, name, "",
		                   err)) ||
		    (st = get_real(root, "final_logit_softcapping", &c->final_logit_softcapping, name,
		                   "", err)))
			goto out;
		/* null turns a cap off */
		if (json_is_null(json_object_get(root, "attn_logit_softcapping")))
			c->attn_logit_softcapping = 0;
		if (json_is_null(json_object_get(root, "final_logit_softcapping")))
			c->final_logit_softcapping = 0;
		if (!(c->query_pre_attn_scalar > 0) || c->attn_logit_softcapping < 0 ||
		    c->final_logit_softcapping < 0)
			FAIL("%s: query_pre_attn_scalar must be > 0 and the soft caps >= 0 (or null)",
			     name);
	}
	json_t *dt = json_object_get(root, "torch_dtype");
	if (!dt)
		dt = json_object_get(root, "dtype");
	if (json_is_string(dt))
		snprintf(c->torch_dtype, sizeof c->torch_dtype, "%s", json_string_value(dt));
	int partial_ok = strcmp(mts, "phi3") == 0 || is_glm(c);
	int64_t rot = hf_config_rotary_dim(c);
	if (c->partial_rotary_factor != 1.0 &&
	    (!partial_ok || !(c->partial_rotary_factor > 0 && c->partial_rotary_factor < 1) ||
	     rot <= 0 || rot % 2)) {
		char v[32];
		hf_format_double(c->partial_rotary_factor, v, sizeof v);
		if (partial_ok)
			FAIL("%s: partial_rotary_factor: %s does not give an even number of rotary dims "
			     "of head_dim %lld", name, v, (long long)c->head_dim);
		FAIL("%s: partial_rotary_factor: %s is not supported for %s (only 1.0: rotary "
		     "embeddings on the whole head)", name, v, mts);
	}
	json_t *tp = json_object_get(root, "pretraining_tp");
	if (tp && json_is_integer(tp) && json_integer_value(tp) != 1)
		FAIL("%s: pretraining_tp: only 1 is supported", name);
	st = hf_config_validate(c, name, err);
out:
	json_decref(root);
	return st;
}

int hf_config_validate(const struct hf_config *c, const char *name, struct qt_err *err)
{
	if (c->num_key_value_heads > c->num_attention_heads ||
	    c->num_attention_heads % c->num_key_value_heads)
		return qt_err_set(err, QT_EDATA, "%s: num_key_value_heads: %lld does not divide "
		                  "num_attention_heads %lld", name, (long long)c->num_key_value_heads,
		                  (long long)c->num_attention_heads);
	if (c->head_dim % 2)
		return qt_err_set(err, QT_EDATA, "%s: head_dim: %lld is odd (rotary pairs need an even "
		                  "size)", name, (long long)c->head_dim);
	if (!(c->rms_norm_eps > 0))
		return qt_err_set(err, QT_EDATA, "%s: rms_norm_eps: must be > 0", name);
	if (!(c->rope_theta > 0))
		return qt_err_set(err, QT_EDATA, "%s: rope_theta: must be > 0", name);
	const struct hf_token_ids *l[3] = { &c->bos, &c->eos, &c->pad };
	static const char *const ln[3] = { "bos_token_id", "eos_token_id", "pad_token_id" };
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < l[k]->n; i++)
			if (l[k]->id[i] >= c->vocab_size)
				return qt_err_set(err, QT_EDATA, "%s: %s: %lld is not below vocab_size %lld",
				                  name, ln[k], (long long)l[k]->id[i], (long long)c->vocab_size);
	return QT_OK;
}

int hf_config_load(const char *path, struct hf_config *c, struct qt_err *err)
{
	char *buf;
	size_t len;
	int st = qt_read_file(path, &buf, &len, err);
	if (st != QT_OK)
		return st;
	st = hf_config_parse(buf, len, path, c, err);
	free(buf);
	return st;
}

/* ---- writing ---- */

void hf_format_double(double v, char *buf, size_t cap)
{
	/* Python's json.dumps spells the non-finite values as JavaScript does; the rest is repr */
	char r[40];
	if (isnan(v))
		snprintf(buf, cap, "NaN");
	else if (isinf(v))
		snprintf(buf, cap, v < 0 ? "-Infinity" : "Infinity");
	else
		snprintf(buf, cap, "%s", py_float_repr(v, r));
}

double hf_f32_shortest(float f)
{
	char b[40];
	for (int p = 1; p <= 9; p++) {
		snprintf(b, sizeof b, "%.*e", p - 1, (double)f);
		if (strtof(b, NULL) == f)
			return strtod(b, NULL);
	}
	return (double)f;
}

/* One "key": value line of the top-level object; value already formatted. */
struct kv { const char *key; char val[256]; const char *big; /* printed instead of val */ };

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

static void fmt_ids(char *buf, size_t cap, const struct hf_token_ids *ids)
{
	if (!ids->is_list) {
		snprintf(buf, cap, "%lld", (long long)ids->id[0]);
		return;
	}
	size_t n = (size_t)snprintf(buf, cap, "[");
	for (int i = 0; i < ids->n; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s\n    %lld", i ? "," : "", (long long)ids->id[i]);
	snprintf(buf + n, cap - n, ids->n ? "\n  ]" : "]");
}

/* Writes the object {kv...} sorted, indent 2, as json.dumps(indent=2, sort_keys=True). */
static int write_kvs(const char *path, struct kv *kv, size_t n, struct qt_err *err)
{
	qsort(kv, n, sizeof *kv, cmp_kv);
	struct qt_out o;
	int st = qt_out_open(&o, path, err);
	if (st != QT_OK)
		return st;
	fputs("{\n", o.fp);
	for (size_t i = 0; i < n; i++)
		fprintf(o.fp, "  \"%s\": %s%s\n", kv[i].key, kv[i].big ? kv[i].big : kv[i].val,
		        i + 1 < n ? "," : "");
	fputs("}\n", o.fp);
	return qt_out_commit(&o, err);
}

int hf_config_write(const char *path, const struct hf_config *c, struct qt_err *err)
{
	struct kv kv[48];
	size_t n = 0;
	char *layer_types = NULL;
	memset(kv, 0, sizeof kv);
#define S(k, ...) do { kv[n].key = k; snprintf(kv[n].val, sizeof kv[n].val, __VA_ARGS__); n++; } while (0)
#define I(k, v) S(k, "%lld", (long long)(v))
#define B(k, v) S(k, "%s", (v) ? "true" : "false")
#define D(k, v) do { kv[n].key = k; hf_format_double(v, kv[n].val, sizeof kv[n].val); n++; } while (0)
	S("architectures", "[\n    \"%s\"\n  ]", c->architecture);
	B("attention_bias", c->attention_bias);
	D("attention_dropout", c->attention_dropout);
	if (c->bos.n) { kv[n].key = "bos_token_id"; fmt_ids(kv[n].val, sizeof kv[n].val, &c->bos); n++; }
	if (c->eos.n) { kv[n].key = "eos_token_id"; fmt_ids(kv[n].val, sizeof kv[n].val, &c->eos); n++; }
	if (c->pad.n) { kv[n].key = "pad_token_id"; fmt_ids(kv[n].val, sizeof kv[n].val, &c->pad); n++; }
	I("head_dim", c->head_dim);
	S("hidden_act", "\"%s\"", is_gemma(c) ? "gelu_pytorch_tanh" : "silu");
	I("hidden_size", c->hidden_size);
	D("initializer_range", c->initializer_range);
	I("intermediate_size", c->intermediate_size);
	I("max_position_embeddings", c->max_position_embeddings);
	B("mlp_bias", c->mlp_bias);
	S("model_type", "\"%s\"", c->model_type);
	I("num_attention_heads", c->num_attention_heads);
	I("num_hidden_layers", c->num_hidden_layers);
	I("num_key_value_heads", c->num_key_value_heads);
	I("pretraining_tp", 1);
	D("rms_norm_eps", c->rms_norm_eps);
	D("rope_theta", c->rope_theta);
	if (c->rope_scaling.type == HF_ROPE_DEFAULT) {
		S("rope_scaling", "null");
	} else {
		char f[32], lo[32], hi[32];
		hf_format_double(c->rope_scaling.factor, f, sizeof f);
		if (c->rope_scaling.type == HF_ROPE_LINEAR) {
			S("rope_scaling", "{\n    \"factor\": %s,\n    \"rope_type\": \"linear\"\n  }", f);
		} else {
			hf_format_double(c->rope_scaling.low_freq_factor, lo, sizeof lo);
			hf_format_double(c->rope_scaling.high_freq_factor, hi, sizeof hi);
			S("rope_scaling", "{\n    \"factor\": %s,\n    \"high_freq_factor\": %s,\n    "
			  "\"low_freq_factor\": %s,\n    \"original_max_position_embeddings\": %lld,\n    "
			  "\"rope_type\": \"llama3\"\n  }", f, hi, lo,
			  (long long)c->rope_scaling.original_max_position_embeddings);
		}
	}
	const char *mt = c->model_type;
	int gemma2 = strcmp(mt, "gemma2") == 0, phi3 = strcmp(mt, "phi3") == 0;
	if (strcmp(mt, "mistral") == 0 || is_qwen(c) || gemma2 || phi3) {
		if (c->sliding_window) I("sliding_window", c->sliding_window);
		else S("sliding_window", "null");
	}
	if (is_qwen(c)) {
		B("use_sliding_window", c->use_sliding_window);
		I("max_window_layers", c->max_window_layers);
	}
	if (gemma2) {
		S("hidden_activation", "\"gelu_pytorch_tanh\"");
		D("query_pre_attn_scalar", c->query_pre_attn_scalar);
		if (c->attn_logit_softcapping > 0) D("attn_logit_softcapping", c->attn_logit_softcapping);
		else S("attn_logit_softcapping", "null");
		if (c->final_logit_softcapping > 0) D("final_logit_softcapping", c->final_logit_softcapping);
		else S("final_logit_softcapping", "null");
	}
	if (phi3 || is_glm(c))
		D("partial_rotary_factor", c->partial_rotary_factor);
	if (c->n_layer_types && (is_qwen(c) || gemma2)) {
		size_t cap = 32 + 24 * (size_t)c->n_layer_types, at = 0;
		if (!(layer_types = malloc(cap)))
			return qt_err_set(err, QT_ESOFTWARE, "out of memory");
		at += (size_t)snprintf(layer_types + at, cap - at, "[");
		for (int l = 0; l < c->n_layer_types; l++)
			at += (size_t)snprintf(layer_types + at, cap - at, "%s\n    \"%s\"", l ? "," : "",
			                       c->layer_sliding[l] ? "sliding_attention" : "full_attention");
		snprintf(layer_types + at, cap - at, "\n  ]");
		kv[n].key = "layer_types";
		kv[n++].big = layer_types;
	}
	B("tie_word_embeddings", c->tie_word_embeddings);
	if (c->torch_dtype[0])
		S("torch_dtype", "\"%s\"", c->torch_dtype);
	B("use_cache", 1);
	I("vocab_size", c->vocab_size);
#undef S
#undef I
#undef B
#undef D
	int st = write_kvs(path, kv, n, err);
	free(layer_types);
	return st;
}

int hf_genconfig_write(const char *path, const struct hf_token_ids *bos,
                       const struct hf_token_ids *eos, const struct hf_token_ids *pad,
                       struct qt_err *err)
{
	struct kv kv[3];
	size_t n = 0;
	memset(kv, 0, sizeof kv);
	if (bos->n) { kv[n].key = "bos_token_id"; fmt_ids(kv[n].val, sizeof kv[n].val, bos); n++; }
	if (eos->n) { kv[n].key = "eos_token_id"; fmt_ids(kv[n].val, sizeof kv[n].val, eos); n++; }
	if (pad->n) { kv[n].key = "pad_token_id"; fmt_ids(kv[n].val, sizeof kv[n].val, pad); n++; }
	return write_kvs(path, kv, n, err);
}
