#!/usr/bin/env python3
# qlora-tools: ISC license.
"""The tiny HF model directory tests/data/export/tiny that export-gguf's tests quantize.

Shapes chosen so that every quantizer and every rule of llama.cpp's type mix runs: hidden 96
(not a multiple of 256: the attention and ffn_gate/up rows fall back from Q4_K/Q5_K/Q6_K to
Q5_0/Q5_1/Q8_0, the output to Q8_0), intermediate 256 (ffn_down rows are real k-quant blocks),
2 layers (Q4_K_M/Q5_K_M give attn_v and ffn_down of layer 1 Q6_K, of layer 0 not), untied
output, 2 heads of 48 with 1 KV head (the Q/K permutation at two head counts). Weights:
seeded normal values, the embeddings bf16 and the rest f32 (both source dtypes), with an
all-zero row, a constant row and a row of tiny values in layer 0's ffn_down (the quantizers'
degenerate branches). Tokenizer: byte-level BPE (3 ChatML specials, the 256 GPT-2 byte
characters, 61 merges), SmolLM2's pre-tokenizer (llama.cpp "smollm"), a ChatML template.

    /work/venv-ref/bin/python tests/ref/export_gguf_model.py
Committed output produced with numpy 2.4.6, safetensors 0.8.0 (torch for bf16).
"""
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file

OUT = "tests/data/export/tiny"
H, I, L, NH, NKV, V = 96, 256, 2, 2, 1, 320
HD = H // NH

rng = np.random.default_rng(19)


def normal(*shape, scale=0.05):
    return torch.from_numpy((rng.standard_normal(shape) * scale).astype(np.float32))


t = {
    "model.embed_tokens.weight": normal(V, H, scale=0.5).to(torch.bfloat16),
    "lm_head.weight": normal(V, H, scale=0.2).to(torch.bfloat16),
    "model.norm.weight": 1 + normal(H, scale=0.1),
}
for l in range(L):
    p = f"model.layers.{l}."
    t[p + "input_layernorm.weight"] = 1 + normal(H, scale=0.1)
    t[p + "post_attention_layernorm.weight"] = 1 + normal(H, scale=0.1)
    t[p + "self_attn.q_proj.weight"] = normal(NH * HD, H, scale=0.3)
    t[p + "self_attn.k_proj.weight"] = normal(NKV * HD, H, scale=0.3)
    t[p + "self_attn.v_proj.weight"] = normal(NKV * HD, H)
    t[p + "self_attn.o_proj.weight"] = normal(H, NH * HD)
    t[p + "mlp.gate_proj.weight"] = normal(I, H)
    t[p + "mlp.up_proj.weight"] = normal(I, H)
    t[p + "mlp.down_proj.weight"] = normal(H, I)
d = t["model.layers.0.mlp.down_proj.weight"]
d[0] = 0.0
d[1] = 0.125
d[2] = normal(I, scale=1e-20)

os.makedirs(OUT, exist_ok=True)
save_file(t, f"{OUT}/model.safetensors", metadata={"format": "pt"})

config = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 1, "eos_token_id": 2, "head_dim": HD, "hidden_act": "silu",
    "hidden_size": H, "initializer_range": 0.02, "intermediate_size": I,
    "max_position_embeddings": 256, "mlp_bias": False, "model_type": "llama",
    "num_attention_heads": NH, "num_hidden_layers": L, "num_key_value_heads": NKV,
    "pad_token_id": 2, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
    "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "float32",
    "use_cache": True, "vocab_size": V,
}
with open(f"{OUT}/config.json", "w") as f:
    f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")

# byte-level BPE vocabulary (GPT-2 bytes_to_unicode)
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
cs = bs[:]
n = 0
for b in range(256):
    if b not in bs:
        bs.append(b)
        cs.append(256 + n)
        n += 1
byte_chars = [chr(c) for _, c in sorted(zip(bs, cs))]
specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
tokens = specials + byte_chars
merges = []
have = set(tokens)
letters = "etaoinshrdlucmfwyp"
for a in ["Ġ"] + list(letters):
    for b in letters:
        if len(tokens) >= V:
            break
        if a + b not in have:
            merges.append([a, b])
            tokens.append(a + b)
            have.add(a + b)
assert len(tokens) == V, len(tokens)
bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
tok = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True}
                     for i, s in enumerate(specials)],
    "normalizer": None,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, bl]},
    "post_processor": dict(bl, trim_offsets=False),
    "decoder": bl,
    "model": {"type": "BPE", "dropout": None, "unk_token": None,
              "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
              "byte_fallback": False, "ignore_merges": False,
              "vocab": {s: i for i, s in enumerate(tokens)}, "merges": merges},
}
with open(f"{OUT}/tokenizer.json", "w") as f:
    f.write(json.dumps(tok, ensure_ascii=False, separators=(",", ":")) + "\n")
template = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
            "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
tc = {"add_prefix_space": False, "bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
      "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>", "chat_template": template,
      "model_max_length": 256, "tokenizer_class": "PreTrainedTokenizerFast",
      "clean_up_tokenization_spaces": False}
with open(f"{OUT}/tokenizer_config.json", "w") as f:
    f.write(json.dumps(tc, indent=2, sort_keys=True) + "\n")


# ---- LoRA adapters (PEFT layout): tests/data/export/tiny-lora for the tiny model (every
# module, r 4, alpha 8, v_proj with alpha_pattern 2: a pair whose alpha differs, folded into B)
# and tests/data/export/smollm2-lora for the default model (q/k/v of layers 0-9, r 4, alpha 8,
# bf16) whose greedy text llama.cpp and gen --adapter must agree on.
def adapter(out, dims, layers, modules, r, alpha, std, dtype, alpha_pattern=None, seed=0):
    g = np.random.default_rng(seed)
    t = {}
    for l in layers:
        for m in modules:
            blk = "mlp" if m in ("gate_proj", "up_proj", "down_proj") else "self_attn"
            i, o = dims[m]
            p = f"base_model.model.model.layers.{l}.{blk}.{m}."
            t[p + "lora_A.weight"] = torch.from_numpy((g.standard_normal((r, i)) * std).astype(np.float32)).to(dtype)
            t[p + "lora_B.weight"] = torch.from_numpy((g.standard_normal((o, r)) * std).astype(np.float32)).to(dtype)
    os.makedirs(out, exist_ok=True)
    save_file(t, f"{out}/adapter_model.safetensors", metadata={"format": "pt"})
    cfg = {"alpha_pattern": alpha_pattern or {}, "base_model_name_or_path": None, "bias": "none",
           "fan_in_fan_out": False, "inference_mode": True, "layers_to_transform": list(layers),
           "lora_alpha": alpha, "lora_dropout": 0.0, "modules_to_save": None, "peft_type": "LORA",
           "r": r, "rank_pattern": {}, "target_modules": modules, "task_type": "CAUSAL_LM",
           "use_dora": False, "use_rslora": False}
    with open(f"{out}/adapter_config.json", "w") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


MODS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
adapter("tests/data/export/tiny-lora",
        {"q_proj": (H, NH * HD), "k_proj": (H, NKV * HD), "v_proj": (H, NKV * HD),
         "o_proj": (NH * HD, H), "gate_proj": (H, I), "up_proj": (H, I), "down_proj": (I, H)},
        range(L), MODS, 4, 8, 0.1, torch.float32, alpha_pattern={"v_proj": 2}, seed=1)
adapter("tests/data/export/smollm2-lora",
        {"q_proj": (576, 576), "k_proj": (576, 192), "v_proj": (576, 192)},
        range(10), ["q_proj", "k_proj", "v_proj"], 4, 8, 0.06, torch.bfloat16, seed=2)
