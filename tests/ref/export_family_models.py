#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Tiny random models, one per family export-gguf writes besides Llama/Mistral (issue 19), each
in a shape llama.cpp's architecture for it computes exactly (tests/data/family's models carry
features llama.cpp cannot represent: export-gguf refuses those, tests/cli/export-gguf).
Run from the repository root:

    /work/venv-ref/bin/python tests/ref/export_family_models.py

Committed output made with torch 2.15.0, transformers 5.25.0. Writes
tests/data/export/family/NAME/ (config.json, model.safetensors in fp32, and the tokenizer of
tests/data/export/tiny, whose 320 tokens are the models' vocabulary):
  qwen2   q/k/v biases, untied lm_head
  qwen3   per-head q_norm/k_norm, head_dim 32 where hidden / heads is 16, tied
  gemma   GeGLU (tanh), norms by 1 + w, scaled embeddings, head_dim 32, tied
  gemma2  gemma's with sandwich norms, soft caps 2 and 3 that bend these scores and logits,
          query_pre_attn_scalar = head_dim 32, sliding_window 6 on layers 1 and 2 of 3
          (layer_types full, sliding, sliding: not llama.cpp's default alternation)
  phi3    fused qkv_proj and gate_up_proj, partial_rotary_factor 0.75 (12 of 16 dims), no
          sliding window
  glm     fused gate_up_proj, q/k/v biases, half of each head rotated in interleaved pairs,
          heads * head_dim = hidden (llama.cpp's chatglm needs it)
  glm4    glm's with sandwich norms, head_dim 32, three quarters rotated
With --lora, writes instead (the models untouched) NAME-lora/ for each: a PEFT LoRA adapter
(r 4, alpha 8, every linear module of the family under PEFT's names: phi3's fused qkv_proj and
gate_up_proj, glm's and glm4's fused gate_up_proj) with random non-zero A and B.
tests/ref/export_family_llamacpp.py runs llama.cpp on their F32 GGUFs, with and without the
adapters' GGUFs.
"""
import sys
import os
import shutil
import torch
from peft import LoraConfig, get_peft_model
from transformers import (Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM,
                          GemmaConfig, GemmaForCausalLM, Gemma2Config, Gemma2ForCausalLM,
                          Phi3Config, Phi3ForCausalLM, GlmConfig, GlmForCausalLM, Glm4Config,
                          Glm4ForCausalLM)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "data", "export", "family")
TOK = os.path.join(ROOT, "data", "export", "tiny")
COMMON = dict(vocab_size=320, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
              rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=2)


TARGETS = {"phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
           "glm": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"],
           "glm4": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"]}
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def lora(name, cls):
    torch.manual_seed(sum(map(ord, name)) + 16)
    base = cls.from_pretrained(os.path.join(OUT, name), dtype=torch.float32)
    pm = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                         target_modules=TARGETS.get(name, ALL),
                                         task_type="CAUSAL_LM"))
    with torch.no_grad():
        for k, p in pm.named_parameters():
            if "lora_" in k:
                p.copy_(torch.randn(p.shape) * (0.2 if "lora_A" in k else 0.05))
    d = os.path.join(OUT, name + "-lora")
    shutil.rmtree(d, ignore_errors=True)
    pm.save_pretrained(d)
    for f in os.listdir(d):
        if f not in ("adapter_config.json", "adapter_model.safetensors"):
            p = os.path.join(d, f)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)


def build(name, cls, cfg):
    if sys.argv[1:] == ["--lora"]:
        return lora(name, cls)
    torch.manual_seed(sum(map(ord, name)) + 19)
    m = cls(cfg).float().eval()
    with torch.no_grad():  # larger weights than the default init, so errors are visible
        for n, p in m.named_parameters():
            if "norm" in n:
                p.copy_((0.0 if "gemma" in name else 1.0) + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.08 * torch.randn_like(p))
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    m.save_pretrained(d, safe_serialization=True)
    for f in os.listdir(d):
        if f not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(d, f))
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TOK, f), d)


build("qwen2", Qwen2ForCausalLM, Qwen2Config(**COMMON, tie_word_embeddings=False))
build("qwen3", Qwen3ForCausalLM,
      Qwen3Config(**COMMON, head_dim=32, attention_bias=False, tie_word_embeddings=True))
build("gemma", GemmaForCausalLM,
      GemmaConfig(**COMMON, head_dim=32, hidden_act="gelu_pytorch_tanh", tie_word_embeddings=True))
build("gemma2", Gemma2ForCausalLM,
      Gemma2Config(**dict(COMMON, num_hidden_layers=3), head_dim=32, query_pre_attn_scalar=32,
                   attn_logit_softcapping=2.0, final_logit_softcapping=3.0, sliding_window=6,
                   layer_types=["full_attention", "sliding_attention", "sliding_attention"],
                   tie_word_embeddings=True))
build("phi3", Phi3ForCausalLM,
      Phi3Config(**COMMON, sliding_window=None, tie_word_embeddings=False,
                 partial_rotary_factor=0.75))
build("glm", GlmForCausalLM,
      GlmConfig(**COMMON, head_dim=16, attention_bias=True, tie_word_embeddings=False))
build("glm4", Glm4ForCausalLM,
      Glm4Config(**COMMON, head_dim=32, attention_bias=True, tie_word_embeddings=False,
                 partial_rotary_factor=0.75))
print("ok")
