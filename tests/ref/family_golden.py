#!/usr/bin/env python3
# Tiny random models of the families the engine runs besides plain Llama (issue 16), and
# transformers' / PEFT's numbers on them. Run from the repository root:
#
#     /work/venv-ref/bin/python tests/ref/family_golden.py [NAME ...]
#
# (NAMEs: only those families; PEFT writes target_modules from a set, so a rerun reorders the
# lists in the adapter_config.json files of the others.)
#
# Committed output made with torch 2.15.0, transformers 5.25.0, peft 0.21.2.
# For each family NAME writes tests/data/family/:
#   NAME/                 config.json + model.safetensors (fp32, save_pretrained)
#   NAME.logits.bin       fp32 logits of a full forward (eager attention), QTLOGIT1 as
#                         tests/ref/llama_golden.py: "QTLOGIT1", u32 n_prompts, u32 V, then per
#                         prompt u32 T, T x u32 ids, T x V f32
#   NAME.greedy.txt       line 1 the prompt ids, line 2 the ids generate(do_sample=False) adds
#                         (24 new tokens, through the cache, past any sliding window)
#   NAME-lora-init/       a PEFT adapter (r 4, alpha 8, all seven linears) with random non-zero
#                         A and B
#   NAME-lora-grad/       the gradients of the token-mean loss of one sequence w.r.t. every
#                         lora_A / lora_B, stored as a PEFT adapter directory
#   NAME.loss.txt         "summed_ce n_targets" of that sequence; the sequence is
#                         NAME.logits.bin's last prompt, positions 0..9 not trained
# Families: llama-bias (attention_bias and mlp_bias true), mistral-window (sliding_window 8,
# shorter than the prompts), qwen2 (q/k/v biases, tied embeddings, full attention), qwen2-window
# (use_sliding_window, sliding_window 6 from layer 1 on: one full and one sliding layer), qwen3
# (per-head q_norm/k_norm, head_dim 32 where hidden / heads is 16, attention biases, tied
# embeddings, the same sliding layers as qwen2-window), gemma (GeGLU with tanh gelu, RMSNorm by
# 1 + w, embeddings scaled by sqrt(hidden), head_dim 32, attention biases, tied embeddings),
# gemma2 (gemma's and sandwich norms, query_pre_attn_scalar 24 where head_dim is 32, attention
# and final logit soft caps small enough to bend these scores and logits, sliding_window 6 on
# layer 0 and full attention on layer 1 as Gemma2Config's default layer_types), phi3 (fused
# qkv_proj and gate_up_proj, PEFT's LoRA on the fused modules, sliding_window 8 on every layer),
# glm (fused gate_up_proj, q/k/v biases, head_dim 32, half of each head rotated with interleaved
# pairs) and glm4 (glm's with sandwich norms and three quarters of each head rotated).
import sys
import os
import shutil
import struct
import torch
from peft import LoraConfig, get_peft_model
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM,
                          GemmaConfig, GemmaForCausalLM, Gemma2Config, Gemma2ForCausalLM,
                          Phi3Config, Phi3ForCausalLM, GlmConfig, GlmForCausalLM, Glm4Config,
                          Glm4ForCausalLM)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "data", "family")
V = 512
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
FUSED_TARGETS = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]  # phi3
GLM_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"]
COMMON = dict(vocab_size=V, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
              rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=2)


def flatten_dir(d):
    for f in os.listdir(d):
        if f not in ("adapter_config.json", "adapter_model.safetensors"):
            p = os.path.join(d, f)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)


def build(name, cls, cfg, targets=TARGETS):
    if sys.argv[1:] and name not in sys.argv[1:]:
        return
    torch.manual_seed(sum(map(ord, name)))
    m = cls(cfg).float().eval()
    with torch.no_grad():  # larger weights than the default init, so errors are visible
        for n, p in m.named_parameters():
            if "norm" in n:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.08 * torch.randn_like(p))
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    m.save_pretrained(d, safe_serialization=True)
    for f in os.listdir(d):
        if f not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(d, f))
    g = torch.Generator().manual_seed(7)
    prompts = [torch.randint(3, V, (T,), generator=g) for T in (1, 5, 17, 40)]
    with open(os.path.join(OUT, name + ".logits.bin"), "wb") as f:
        f.write(b"QTLOGIT1" + struct.pack("<II", len(prompts), V))
        for ids in prompts:
            with torch.no_grad():
                logits = m(ids[None]).logits[0].float()
            f.write(struct.pack("<I", len(ids)))
            f.write(ids.to(torch.int32).numpy().astype("<u4").tobytes())
            f.write(logits.numpy().astype("<f4").tobytes())
    prompt = prompts[2]
    with torch.no_grad():
        out = m.generate(prompt[None], attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                         do_sample=False, max_new_tokens=24, min_new_tokens=24,
                         eos_token_id=None, pad_token_id=2)[0]
    with open(os.path.join(OUT, name + ".greedy.txt"), "w") as f:
        f.write(" ".join(str(int(i)) for i in prompt) + "\n")
        f.write(" ".join(str(int(i)) for i in out[len(prompt):]) + "\n")

    # LoRA gradients of one sequence (PEFT, eager attention, fp32)
    base = cls.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    pm = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                         target_modules=targets, task_type="CAUSAL_LM"))
    pm.train()
    lora = [(k, p) for k, p in pm.named_parameters() if "lora_" in k]
    with torch.no_grad():
        for k, p in lora:
            p.copy_(torch.randn(p.shape) * (0.2 if "lora_A" in k else 0.05))
    for sub in ("-lora-init", "-lora-grad"):
        shutil.rmtree(os.path.join(OUT, name + sub), ignore_errors=True)
    pm.save_pretrained(os.path.join(OUT, name + "-lora-init"))
    flatten_dir(os.path.join(OUT, name + "-lora-init"))
    ids = prompts[-1][None].long()
    labels = ids.clone()
    labels[0, :10] = -100
    logits = pm(input_ids=ids).logits.float()
    ce = torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:], ignore_index=-100,
                                           reduction="sum")
    n = int((labels[0, 1:] != -100).sum())
    (ce / n).backward()
    init = {k: p.detach().clone() for k, p in lora}
    with torch.no_grad():
        for k, p in lora:
            p.copy_(p.grad)
    pm.save_pretrained(os.path.join(OUT, name + "-lora-grad"))
    flatten_dir(os.path.join(OUT, name + "-lora-grad"))
    with torch.no_grad():
        for k, p in lora:
            p.copy_(init[k])
    with open(os.path.join(OUT, name + ".loss.txt"), "w") as f:
        f.write("%.9e %d\n" % (float(ce), n))


os.makedirs(OUT, exist_ok=True)
build("llama-bias", LlamaForCausalLM,
      LlamaConfig(**COMMON, attention_bias=True, mlp_bias=True, tie_word_embeddings=False))
build("mistral-window", MistralForCausalLM,
      MistralConfig(**COMMON, sliding_window=8, tie_word_embeddings=False))
build("qwen2", Qwen2ForCausalLM,
      Qwen2Config(**COMMON, tie_word_embeddings=True, rope_parameters={"rope_theta": 1000000.0,
                                                                       "rope_type": "default"}))
build("qwen2-window", Qwen2ForCausalLM,
      Qwen2Config(**COMMON, tie_word_embeddings=False, use_sliding_window=True, sliding_window=6,
                  max_window_layers=1))
build("qwen3", Qwen3ForCausalLM,
      Qwen3Config(**COMMON, head_dim=32, attention_bias=True, tie_word_embeddings=True,
                  use_sliding_window=True, sliding_window=6, max_window_layers=1))
build("gemma", GemmaForCausalLM,
      GemmaConfig(**dict(COMMON, bos_token_id=2, eos_token_id=1, pad_token_id=0), head_dim=32,
                  attention_bias=True, hidden_act="gelu_pytorch_tanh"))
build("gemma2", Gemma2ForCausalLM,
      Gemma2Config(**dict(COMMON, bos_token_id=2, eos_token_id=1, pad_token_id=0), head_dim=32,
                   query_pre_attn_scalar=24, attn_logit_softcapping=2.0,
                   final_logit_softcapping=3.0, sliding_window=6, tie_word_embeddings=True))
build("phi3", Phi3ForCausalLM,
      Phi3Config(**COMMON, sliding_window=8, tie_word_embeddings=False), FUSED_TARGETS)
build("glm", GlmForCausalLM, GlmConfig(**COMMON, head_dim=32, tie_word_embeddings=False),
      GLM_TARGETS)
build("glm4", Glm4ForCausalLM,
      Glm4Config(**COMMON, head_dim=32, tie_word_embeddings=False, partial_rotary_factor=0.75),
      GLM_TARGETS)
print("ok")
