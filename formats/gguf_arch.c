/* qlora-tools: ISC license. */
/* llama.cpp architecture and tensor names; see gguf_arch.h. */
#include "formats/gguf_arch.h"

#include <string.h>

#define NONE GGUF_PERMUTE_NONE
#define C    GGUF_DIM_C
#define I    GGUF_DIM_I
#define Q    GGUF_DIM_Q
#define KV   GGUF_DIM_KV

/* LLM_ARCH_LLAMA (gguf-py tensor_mapping.py; convert_hf_to_gguf.py LlamaModel permutes q/k,
 * weights and biases alike). */
static const struct gguf_tname llama_layer[] = {
	{ "input_layernorm.weight",          "attn_norm.weight",   NONE,           C,  0, 0 },
	{ "self_attn.q_proj.weight",         "attn_q.weight",      GGUF_PERMUTE_Q, Q,  C, 0 },
	{ "self_attn.q_proj.bias",           "attn_q.bias",        GGUF_PERMUTE_Q, Q,  0, 1 },
	{ "self_attn.k_proj.weight",         "attn_k.weight",      GGUF_PERMUTE_K, KV, C, 0 },
	{ "self_attn.k_proj.bias",           "attn_k.bias",        GGUF_PERMUTE_K, KV, 0, 2 },
	{ "self_attn.v_proj.weight",         "attn_v.weight",      NONE,           KV, C, 0 },
	{ "self_attn.v_proj.bias",           "attn_v.bias",        NONE,           KV, 0, 3 },
	{ "self_attn.o_proj.weight",         "attn_output.weight", NONE,           C,  Q, 0 },
	{ "self_attn.o_proj.bias",           "attn_output.bias",   NONE,           C,  0, 4 },
	{ "post_attention_layernorm.weight", "ffn_norm.weight",    NONE,           C,  0, 0 },
	{ "mlp.gate_proj.weight",            "ffn_gate.weight",    NONE,           I,  C, 0 },
	{ "mlp.gate_proj.bias",              "ffn_gate.bias",      NONE,           I,  0, 5 },
	{ "mlp.up_proj.weight",              "ffn_up.weight",      NONE,           I,  C, 0 },
	{ "mlp.up_proj.bias",                "ffn_up.bias",        NONE,           I,  0, 6 },
	{ "mlp.down_proj.weight",            "ffn_down.weight",    NONE,           C,  I, 0 },
	{ "mlp.down_proj.bias",              "ffn_down.bias",      NONE,           C,  0, 7 },
};

/* The rows every family below shares: no permutation (NEOX rope, or GLM's interleaved pairs
 * that are llama.cpp's NORM rope as HF stores them). */
#define ATTN_NORM { "input_layernorm.weight",  "attn_norm.weight",   NONE, C,  0, 0 }
#define Q_W       { "self_attn.q_proj.weight", "attn_q.weight",      NONE, Q,  C, 0 }
#define K_W       { "self_attn.k_proj.weight", "attn_k.weight",      NONE, KV, C, 0 }
#define V_W       { "self_attn.v_proj.weight", "attn_v.weight",      NONE, KV, C, 0 }
#define Q_B       { "self_attn.q_proj.bias",   "attn_q.bias",        NONE, Q,  0, 1 }
#define K_B       { "self_attn.k_proj.bias",   "attn_k.bias",        NONE, KV, 0, 2 }
#define V_B       { "self_attn.v_proj.bias",   "attn_v.bias",        NONE, KV, 0, 3 }
#define O_W       { "self_attn.o_proj.weight", "attn_output.weight", NONE, C,  Q, 0 }
#define GATE_W    { "mlp.gate_proj.weight",    "ffn_gate.weight",    NONE, I,  C, 0 }
#define UP_W      { "mlp.up_proj.weight",      "ffn_up.weight",      NONE, I,  C, 0 }
#define DOWN_W    { "mlp.down_proj.weight",    "ffn_down.weight",    NONE, C,  I, 0 }
#define GATE_UP_W { "mlp.gate_up_proj.weight", "ffn_up.weight",      NONE, GGUF_DIM_I2, C, 0 }
#define FFN_NORM(hf) { hf, "ffn_norm.weight", NONE, C, 0, 0 }

/* LLM_ARCH_QWEN2: q/k/v biases (Qwen2Model: no permutation). */
static const struct gguf_tname qwen2_layer[] = {
	ATTN_NORM, Q_W, Q_B, K_W, K_B, V_W, V_B, O_W,
	FFN_NORM("post_attention_layernorm.weight"), GATE_W, UP_W, DOWN_W,
};

/* LLM_ARCH_QWEN3: per-head q/k norms; q/k/v biases are read when present (create_tensor_qkv)
 * but there is no attn_output.bias, which attention_bias also gives. */
static const struct gguf_tname qwen3_layer[] = {
	ATTN_NORM, Q_W, Q_B, K_W, K_B, V_W, V_B, O_W,
	{ "self_attn.q_norm.weight", "attn_q_norm.weight", NONE, GGUF_DIM_HD, 0, 0 },
	{ "self_attn.k_norm.weight", "attn_k_norm.weight", NONE, GGUF_DIM_HD, 0, 0 },
	FFN_NORM("post_attention_layernorm.weight"), GATE_W, UP_W, DOWN_W,
};

/* LLM_ARCH_GEMMA (GemmaModel: every norm stored as 1 + w, lm_head skipped); biases as qwen3. */
static const struct gguf_tname gemma_layer[] = {
	ATTN_NORM, Q_W, Q_B, K_W, K_B, V_W, V_B, O_W,
	FFN_NORM("post_attention_layernorm.weight"), GATE_W, UP_W, DOWN_W,
};

/* LLM_ARCH_GEMMA2: gemma's with sandwich norms. */
static const struct gguf_tname gemma2_layer[] = {
	ATTN_NORM, Q_W, Q_B, K_W, K_B, V_W, V_B, O_W,
	{ "post_attention_layernorm.weight",   "post_attention_norm.weight", NONE, C, 0, 0 },
	FFN_NORM("pre_feedforward_layernorm.weight"), GATE_W, UP_W, DOWN_W,
	{ "post_feedforward_layernorm.weight", "post_ffw_norm.weight",  NONE, C, 0, 0 },
};

/* LLM_ARCH_PHI3: fused qkv_proj (attn_qkv) and gate_up_proj (ffn_up, gate rows first, as
 * ggml's swiglu splits it), kept fused. */
static const struct gguf_tname phi3_layer[] = {
	ATTN_NORM,
	{ "self_attn.qkv_proj.weight", "attn_qkv.weight", NONE, GGUF_DIM_QKV, C, 0 },
	O_W, FFN_NORM("post_attention_layernorm.weight"), GATE_UP_W, DOWN_W,
};

/* LLM_ARCH_CHATGLM for transformers' glm (ChatGLMModel registers GlmForCausalLM). */
static const struct gguf_tname glm_layer[] = {
	ATTN_NORM, Q_W, Q_B, K_W, K_B, V_W, V_B, O_W,
	FFN_NORM("post_attention_layernorm.weight"), GATE_UP_W, DOWN_W,
};

/* LLM_ARCH_GLM4 (Glm4Model): glm's with sandwich norms. */
static const struct gguf_tname glm4_layer[] = {
	ATTN_NORM, Q_W, Q_B, K_W, K_B, V_W, V_B, O_W,
	{ "post_self_attn_layernorm.weight", "post_attention_norm.weight", NONE, C, 0, 0 },
	FFN_NORM("post_attention_layernorm.weight"), GATE_UP_W, DOWN_W,
	{ "post_mlp_layernorm.weight",       "post_ffw_norm.weight",  NONE, C, 0, 0 },
};

#define N(a) (sizeof a / sizeof a[0])

/* HF model_type -> llama.cpp architecture. Mistral is converted as LLAMA by llama.cpp
 * (convert_hf_to_gguf.py registers MistralForCausalLM with LlamaModel). */
#define TABLE(t) t, N(t)
static const struct gguf_family families[] = {
	{ "llama",   "llama",   "LlamaForCausalLM",   TABLE(llama_layer),  0 },
	{ "mistral", "llama",   "MistralForCausalLM", TABLE(llama_layer),  0 },
	{ "qwen2",   "qwen2",   "Qwen2ForCausalLM",   TABLE(qwen2_layer),  GGUF_FAM_SQUARE_O },
	{ "qwen3",   "qwen3",   "Qwen3ForCausalLM",   TABLE(qwen3_layer),  0 },
	{ "gemma",   "gemma",   "GemmaForCausalLM",   TABLE(gemma_layer),
	  GGUF_FAM_NORM_PLUS_ONE | GGUF_FAM_TIED },
	{ "gemma2",  "gemma2",  "Gemma2ForCausalLM",  TABLE(gemma2_layer),
	  GGUF_FAM_NORM_PLUS_ONE | GGUF_FAM_TIED | GGUF_FAM_SWA | GGUF_FAM_SOFTCAP },
	{ "phi3",    "phi3",    "Phi3ForCausalLM",    TABLE(phi3_layer),
	  GGUF_FAM_SQUARE_O | GGUF_FAM_PARTIAL_ROPE },
	{ "glm",     "chatglm", "GlmForCausalLM",     TABLE(glm_layer),
	  GGUF_FAM_SQUARE_O | GGUF_FAM_PARTIAL_ROPE },
	{ "glm4",    "glm4",    "Glm4ForCausalLM",    TABLE(glm4_layer),   GGUF_FAM_PARTIAL_ROPE },
};

const struct gguf_family *gguf_family_find(const char *model_type)
{
	for (size_t i = 0; i < N(families); i++)
		if (strcmp(families[i].model_type, model_type) == 0)
			return &families[i];
	return NULL;
}

const struct gguf_family *gguf_family_of_arch(const char *arch)
{
	for (size_t i = 0; i < N(families); i++)
		if (strcmp(families[i].arch, arch) == 0)
			return &families[i];
	return NULL;
}

const char *gguf_family_list(void)
{
	return "llama, mistral, qwen2, qwen3, gemma, gemma2, phi3, glm, glm4";
}

const char *gguf_arch_list(void)
{
	return "llama, qwen2, qwen3, gemma, gemma2, phi3, chatglm, glm4";
}
