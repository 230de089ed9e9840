/* qlora-tools: ISC license. */
/*
 * The general.* and <arch>.* keys of a model GGUF from its config.json, as
 * convert_hf_to_gguf.py's set_gguf_parameters write them for each family, and the refusals of
 * what a llama.cpp architecture cannot compute as the HF model does; see gguf_arch.h. Used by
 * export-gguf (jobs/export_gguf.c); the tokenizer keys are formats/gguf_vocab*.c's.
 */
#include "formats/gguf_arch.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>


static int kv_u32(struct gguf_writer *w, const char *dir, const char *arch, const char *key,
                  int64_t v, struct qt_err *err)
{
	char k[128];
	snprintf(k, sizeof k, "%s.%s", arch, key);
	if (v < 0 || v > UINT32_MAX)
		return qt_err_set(err, QT_EDATA, "%s: %s = %lld does not fit a u32", dir, k, (long long)v);
	return gguf_writer_u32(w, k, (uint32_t)v, err);
}

static int kv_f32(struct gguf_writer *w, const char *arch, const char *key, double v,
                  struct qt_err *err)
{
	char k[128];
	snprintf(k, sizeof k, "%s.%s", arch, key);
	return gguf_writer_f32(w, k, (float)v, err);
}

int gguf_arch_put_general(struct gguf_writer *w, const struct gguf_family *fam, const char *type,
                          const char *dir, struct qt_err *err)
{
	const char *arch = fam->arch, *base = strrchr(dir, '/');
	char name[256];
	snprintf(name, sizeof name, "%s", base && base[1] ? base + 1 : dir);
	size_t n = strlen(name);
	while (n > 1 && name[n - 1] == '/')
		name[--n] = '\0';
	int st;
	if ((st = gguf_writer_str(w, "general.architecture", arch, strlen(arch), err)) ||
	    (st = gguf_writer_str(w, "general.type", type, strlen(type), err)) ||
	    (st = gguf_writer_str(w, "general.name", name, n, err)))
		return st;
	return QT_OK;
}

int gguf_arch_put(struct gguf_writer *w, const struct gguf_family *fam, const struct hf_config *c,
                  const char *dir, uint32_t ftype, struct qt_err *err)
{
	const char *a = fam->arch;
	int st;
	if ((st = gguf_arch_put_general(w, fam, "model", dir, err)) ||
	    (st = kv_u32(w, dir, a, "block_count", c->num_hidden_layers, err)) ||
	    (st = kv_u32(w, dir, a, "context_length", c->max_position_embeddings, err)) ||
	    (st = kv_u32(w, dir, a, "embedding_length", c->hidden_size, err)) ||
	    (st = kv_u32(w, dir, a, "feed_forward_length", c->intermediate_size, err)) ||
	    (st = kv_u32(w, dir, a, "attention.head_count", c->num_attention_heads, err)) ||
	    (st = kv_u32(w, dir, a, "attention.head_count_kv", c->num_key_value_heads, err)) ||
	    (st = kv_f32(w, a, "rope.freq_base", c->rope_theta, err)) ||
	    (st = kv_f32(w, a, "attention.layer_norm_rms_epsilon", c->rms_norm_eps, err)) ||
	    (st = kv_u32(w, dir, a, "attention.key_length", c->head_dim, err)) ||
	    (st = kv_u32(w, dir, a, "attention.value_length", c->head_dim, err)))
		return st;
	if (c->rope_scaling.type == HF_ROPE_LINEAR) {
		char k[128];
		snprintf(k, sizeof k, "%s.rope.scaling.type", a);
		if ((st = gguf_writer_str(w, k, "linear", 6, err)) ||
		    (st = kv_f32(w, a, "rope.scaling.factor", c->rope_scaling.factor, err)))
			return st;
	}
	if ((st = gguf_writer_u32(w, "general.file_type", ftype, err)) ||
	    (st = kv_u32(w, dir, a, "vocab_size", c->vocab_size, err)) ||
	    (st = kv_u32(w, dir, a, "rope.dimension_count", hf_config_rotary_dim(c), err)) ||
	    (st = gguf_writer_u32(w, "general.quantization_version", 2, err)))
		return st;
	if (fam->flags & GGUF_FAM_SOFTCAP) {
		char k[128];
		uint8_t pattern[HF_MAX_LAYER_TYPES];
		int64_t win = c->sliding_window > 0 ? c->sliding_window : c->max_position_embeddings;
		for (int64_t l = 0; l < c->num_hidden_layers; l++)
			pattern[l] = hf_config_layer_window(c, l) > 0;
		snprintf(k, sizeof k, "%s.attention.sliding_window_pattern", a);
		if ((st = kv_f32(w, a, "attn_logit_softcapping", c->attn_logit_softcapping, err)) ||
		    (st = kv_f32(w, a, "final_logit_softcapping", c->final_logit_softcapping, err)) ||
		    (st = kv_u32(w, dir, a, "attention.sliding_window", win, err)) ||
		    (st = gguf_writer_arr_bool(w, k, pattern, (uint64_t)c->num_hidden_layers, err)))
			return st;
	}
	if (strcmp(fam->model_type, "phi3") == 0 && /* as Phi3MiniModel: 0 when null */
	    (st = kv_u32(w, dir, a, "attention.sliding_window", c->sliding_window, err)))
		return st;
	return QT_OK;
}

int gguf_arch_check(const struct gguf_family *fam, const struct hf_config *c, const char *dir,
                    struct qt_err *err)
{
	const char *a = fam->arch;
	unsigned fl = fam->flags;
	/* llama.cpp's llama, qwen2, qwen3, phi3 (SWA disabled), chatglm and glm4 have no sliding
	 * window (the converters drop Mistral's and Qwen's): a window shorter than the context
	 * would be silently lost, so it is refused; gemma2 has one per layer */
	for (int64_t l = 0; l < c->num_hidden_layers && !(fl & GGUF_FAM_SWA); l++) {
		int64_t w = hf_config_layer_window(c, l);
		if (w > 0 && w < c->max_position_embeddings)
			return qt_err_set(err, QT_EDATA, "%s/config.json: sliding_window: %lld tokens, "
			                  "shorter than the context (max_position_embeddings %lld): "
			                  "llama.cpp's %s architecture has no sliding window, so the "
			                  "exported model would attend past it", dir, (long long)w,
			                  (long long)c->max_position_embeddings, a);
	}
	if ((fl & GGUF_FAM_SQUARE_O) && c->num_attention_heads * c->head_dim != c->hidden_size)
		return qt_err_set(err, QT_EDATA, "%s/config.json: head_dim: %lld heads of %lld are not "
		                  "hidden_size %lld: llama.cpp's %s architecture needs them equal", dir,
		                  (long long)c->num_attention_heads, (long long)c->head_dim,
		                  (long long)c->hidden_size, a);
	if ((fl & GGUF_FAM_TIED) && !c->tie_word_embeddings)
		return qt_err_set(err, QT_EDATA, "%s/config.json: tie_word_embeddings: false: llama.cpp's "
		                  "%s architecture takes the output from token_embd (its converter "
		                  "drops lm_head)", dir, a);
	if (!(fl & GGUF_FAM_PARTIAL_ROPE) && hf_config_rotary_dim(c) != c->head_dim)
		return qt_err_set(err, QT_EDATA, "%s/config.json: partial_rotary_factor: llama.cpp's %s "
		                  "architecture rotates whole heads", dir, a);
	if (fl & GGUF_FAM_SOFTCAP) {
		/* llama.cpp's gemma2 scales queries by head_dim^-0.5, or (hidden / heads)^-0.5 at 46
		 * layers (27B), whatever query_pre_attn_scalar says, and always soft-caps */
		int64_t q = c->num_hidden_layers == 46 ? c->hidden_size / c->num_attention_heads
		                                       : c->head_dim;
		if (c->query_pre_attn_scalar != (double)q)
			return qt_err_set(err, QT_EDATA, "%s/config.json: query_pre_attn_scalar: %g: "
			                  "llama.cpp's %s architecture scales queries by %lld^-0.5 for "
			                  "this model", dir, c->query_pre_attn_scalar, a, (long long)q);
		int sliding = 0;
		for (int64_t l = 0; l < c->num_hidden_layers; l++)
			sliding |= hf_config_layer_window(c, l) > 0;
		if (!sliding) /* llama.cpp asserts is_swa_any() for gemma2 and aborts */
			return qt_err_set(err, QT_EDATA, "%s/config.json: layer_types: no sliding layer: "
			                  "llama.cpp's %s architecture needs at least one", dir, a);
		if (!(c->attn_logit_softcapping > 0) || !(c->final_logit_softcapping > 0))
			return qt_err_set(err, QT_EDATA, "%s/config.json: %s: null: llama.cpp's %s "
			                  "architecture always soft-caps (default %s)", dir,
			                  c->attn_logit_softcapping > 0 ? "final_logit_softcapping"
			                                                : "attn_logit_softcapping", a,
			                  c->attn_logit_softcapping > 0 ? "30" : "50");
	}
	return QT_OK;
}

