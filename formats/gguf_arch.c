/* qlora-tools: ISC license. */
/* llama.cpp architecture and tensor names; see gguf_arch.h. */
#include "formats/gguf_arch.h"

#include <string.h>

/* LLM_ARCH_LLAMA (gguf-py tensor_mapping.py; convert_hf_to_gguf.py LlamaModel permutes q/k,
 * weights and biases alike). */
static const struct gguf_tname llama_layer[] = {
	{ "input_layernorm.weight",          "attn_norm.weight",   GGUF_PERMUTE_NONE, GGUF_DIM_C,  0,           0 },
	{ "self_attn.q_proj.weight",         "attn_q.weight",      GGUF_PERMUTE_Q,    GGUF_DIM_Q,  GGUF_DIM_C,  0 },
	{ "self_attn.q_proj.bias",           "attn_q.bias",        GGUF_PERMUTE_Q,    GGUF_DIM_Q,  0,           1 },
	{ "self_attn.k_proj.weight",         "attn_k.weight",      GGUF_PERMUTE_K,    GGUF_DIM_KV, GGUF_DIM_C,  0 },
	{ "self_attn.k_proj.bias",           "attn_k.bias",        GGUF_PERMUTE_K,    GGUF_DIM_KV, 0,           1 },
	{ "self_attn.v_proj.weight",         "attn_v.weight",      GGUF_PERMUTE_NONE, GGUF_DIM_KV, GGUF_DIM_C,  0 },
	{ "self_attn.v_proj.bias",           "attn_v.bias",        GGUF_PERMUTE_NONE, GGUF_DIM_KV, 0,           1 },
	{ "self_attn.o_proj.weight",         "attn_output.weight", GGUF_PERMUTE_NONE, GGUF_DIM_C,  GGUF_DIM_Q,  0 },
	{ "self_attn.o_proj.bias",           "attn_output.bias",   GGUF_PERMUTE_NONE, GGUF_DIM_C,  0,           1 },
	{ "post_attention_layernorm.weight", "ffn_norm.weight",    GGUF_PERMUTE_NONE, GGUF_DIM_C,  0,           0 },
	{ "mlp.gate_proj.weight",            "ffn_gate.weight",    GGUF_PERMUTE_NONE, GGUF_DIM_I,  GGUF_DIM_C,  0 },
	{ "mlp.gate_proj.bias",              "ffn_gate.bias",      GGUF_PERMUTE_NONE, GGUF_DIM_I,  0,           2 },
	{ "mlp.up_proj.weight",              "ffn_up.weight",      GGUF_PERMUTE_NONE, GGUF_DIM_I,  GGUF_DIM_C,  0 },
	{ "mlp.up_proj.bias",                "ffn_up.bias",        GGUF_PERMUTE_NONE, GGUF_DIM_I,  0,           2 },
	{ "mlp.down_proj.weight",            "ffn_down.weight",    GGUF_PERMUTE_NONE, GGUF_DIM_C,  GGUF_DIM_I,  0 },
	{ "mlp.down_proj.bias",              "ffn_down.bias",      GGUF_PERMUTE_NONE, GGUF_DIM_C,  0,           2 },
};

#define N(a) (sizeof a / sizeof a[0])

/* HF model_type -> llama.cpp architecture. Mistral is converted as LLAMA by llama.cpp
 * (convert_hf_to_gguf.py registers MistralForCausalLM with LlamaModel). */
static const struct gguf_family families[] = {
	{ "llama",   "llama", llama_layer, N(llama_layer) },
	{ "mistral", "llama", llama_layer, N(llama_layer) },
};

const struct gguf_family *gguf_family_find(const char *model_type)
{
	for (size_t i = 0; i < N(families); i++)
		if (strcmp(families[i].model_type, model_type) == 0)
			return &families[i];
	return NULL;
}

const char *gguf_family_list(void)
{
	return "llama, mistral";
}
