/* qlora-tools: ISC license. */
/*
 * The general rule for config.json (hfconfig(5), KEYS): every key that changes the math of
 * transformers' Llama, Mistral, Qwen2, Qwen3, Gemma, Gemma-2 or Phi-3 model is either implemented or refused, never
 * read and ignored. The table below gives every key that their configs write, and every one
 * their modeling code reads, a role; tests/formats/test_hfconfig.c checks it against the
 * list tests/ref/hfconfig_keys.py took from transformers. Keys outside that list do not reach
 * the reference's Llama math either (transformers keeps them as unused attributes).
 */
#include "formats/hfconfig.h"

#include <string.h>

static const struct {
	const char      *key;
	enum hf_key_role role;
} hf_keys[] = {
	/* the architecture and its shapes: read, checked against the weights */
	{ "architectures",                    HF_KEY_IMPLEMENTED },
	{ "model_type",                       HF_KEY_IMPLEMENTED },
	{ "vocab_size",                       HF_KEY_IMPLEMENTED },
	{ "hidden_size",                      HF_KEY_IMPLEMENTED },
	{ "intermediate_size",                HF_KEY_IMPLEMENTED },
	{ "num_hidden_layers",                HF_KEY_IMPLEMENTED },
	{ "num_attention_heads",              HF_KEY_IMPLEMENTED },
	{ "num_key_value_heads",              HF_KEY_IMPLEMENTED },
	{ "head_dim",                         HF_KEY_IMPLEMENTED },
	{ "hidden_act",                       HF_KEY_IMPLEMENTED }, /* "silu"; others refused */
	{ "rms_norm_eps",                     HF_KEY_IMPLEMENTED },
	{ "tie_word_embeddings",              HF_KEY_IMPLEMENTED },
	{ "max_position_embeddings",          HF_KEY_IMPLEMENTED }, /* the context limit */
	{ "bos_token_id",                     HF_KEY_IMPLEMENTED },
	{ "eos_token_id",                     HF_KEY_IMPLEMENTED }, /* gen's stop tokens */
	/* rotary embeddings: rope_scaling / rope_parameters and their fields */
	{ "rope_theta",                       HF_KEY_IMPLEMENTED },
	{ "rope_parameters",                  HF_KEY_IMPLEMENTED },
	{ "rope_scaling",                     HF_KEY_IMPLEMENTED },
	{ "rope_type",                        HF_KEY_IMPLEMENTED }, /* default, linear, llama3 */
	{ "type",                             HF_KEY_IMPLEMENTED }, /* rope_type's old name */
	{ "factor",                           HF_KEY_IMPLEMENTED },
	{ "low_freq_factor",                  HF_KEY_IMPLEMENTED },
	{ "high_freq_factor",                 HF_KEY_IMPLEMENTED },
	{ "original_max_position_embeddings", HF_KEY_IMPLEMENTED },
	/* fields of the rope types that are refused (dynamic, yarn, longrope) */
	{ "attention_factor",                 HF_KEY_REFUSED },
	{ "beta_fast",                        HF_KEY_REFUSED },
	{ "beta_slow",                        HF_KEY_REFUSED },
	{ "long_factor",                      HF_KEY_REFUSED },
	{ "short_factor",                     HF_KEY_REFUSED },
	{ "mscale",                           HF_KEY_REFUSED },
	{ "mscale_all_dim",                   HF_KEY_REFUSED },
	{ "truncate",                         HF_KEY_REFUSED },
	/* biases and sliding windows (hf_config_has_bias, hf_config_layer_window) */
	{ "attention_bias",                   HF_KEY_IMPLEMENTED }, /* llama, mistral */
	{ "mlp_bias",                         HF_KEY_IMPLEMENTED },
	{ "sliding_window",                   HF_KEY_IMPLEMENTED }, /* mistral, qwen2, gemma2 */
	{ "use_sliding_window",               HF_KEY_IMPLEMENTED }, /* qwen2 */
	{ "max_window_layers",                HF_KEY_IMPLEMENTED }, /* qwen2 */
	{ "layer_types",                      HF_KEY_IMPLEMENTED }, /* qwen2, gemma2 */
	{ "use_bidirectional_attention",      HF_KEY_REFUSED },     /* gemma, unless false */
	/* gemma2 */
	{ "hidden_activation",                HF_KEY_IMPLEMENTED }, /* gelu_pytorch_tanh only */
	{ "query_pre_attn_scalar",            HF_KEY_IMPLEMENTED }, /* the attention scale */
	{ "attn_logit_softcapping",           HF_KEY_IMPLEMENTED },
	{ "final_logit_softcapping",          HF_KEY_IMPLEMENTED },
	/* refused unless at the value that leaves the math unchanged (hf_config_check_compute) */
	{ "attention_dropout",                HF_KEY_REFUSED }, /* in training, unless 0 */
	{ "resid_pdrop",                      HF_KEY_REFUSED }, /* phi3: in training, unless 0 */
	{ "partial_rotary_factor",            HF_KEY_REFUSED }, /* unless 1; phi3, glm: implemented */
	{ "pretraining_tp",                   HF_KEY_REFUSED }, /* unless 1 */
	/* no effect on the forward pass or the LoRA gradients */
	{ "pad_token_id",                     HF_KEY_NO_MATH }, /* the embedding's padding_idx: init only */
	{ "initializer_range",                HF_KEY_NO_MATH }, /* init of new weights */
	{ "embd_pdrop",                       HF_KEY_NO_MATH }, /* phi3: written, never read */
	{ "dtype",                            HF_KEY_NO_MATH }, /* storage; the weights say theirs */
	{ "torch_dtype",                      HF_KEY_NO_MATH },
	{ "use_cache",                        HF_KEY_NO_MATH },
	{ "transformers_version",             HF_KEY_NO_MATH },
	{ "chunk_size_feed_forward",          HF_KEY_NO_MATH }, /* not used by Llama */
	{ "id2label",                         HF_KEY_NO_MATH }, /* classification heads */
	{ "label2id",                         HF_KEY_NO_MATH },
	{ "problem_type",                     HF_KEY_NO_MATH },
	{ "is_encoder_decoder",               HF_KEY_NO_MATH },
	{ "output_attentions",                HF_KEY_NO_MATH },
	{ "output_hidden_states",             HF_KEY_NO_MATH },
	{ "return_dict",                      HF_KEY_NO_MATH },
};

enum hf_key_role hf_config_key_role(const char *key)
{
	for (size_t i = 0; i < sizeof hf_keys / sizeof *hf_keys; i++)
		if (strcmp(hf_keys[i].key, key) == 0)
			return hf_keys[i].role;
	return HF_KEY_UNKNOWN;
}

int hf_config_check_compute(const struct hf_config *c, const char *name, int64_t max_seq,
                            const char *seen_by, int training, struct qt_err *err)
{
	(void)max_seq;
	(void)seen_by;
	if (training && c->resid_pdrop != 0) {
		char v[32];
		hf_format_double(c->resid_pdrop, v, sizeof v);
		return qt_err_set(err, QT_EDATA, "%s: resid_pdrop: %s is not supported in training "
		                  "(residual dropout is not implemented; set it to 0.0)", name, v);
	}
	if (training && c->attention_dropout != 0) {
		char v[32];
		hf_format_double(c->attention_dropout, v, sizeof v);
		return qt_err_set(err, QT_EDATA, "%s: attention_dropout: %s is not supported in "
		                  "training (attention dropout is not implemented; set it to 0.0)",
		                  name, v);
	}
	return QT_OK;
}
