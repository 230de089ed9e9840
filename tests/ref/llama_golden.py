#!/usr/bin/env python3
# Tiny random Llama models and transformers' fp32 logits on them, for the engine's forward test.
# Writes tests/data/llama/<name>/{config.json,model.safetensors} and
# tests/data/llama/<name>.logits.bin: magic "QTLOGIT1", u32 n_prompts, u32 V, then per prompt
# u32 T, T x u32 ids, T x V f32 logits (little-endian).
# Run: /work/venv-ref/bin/python tests/ref/llama_golden.py
# Committed output made with transformers 5.23.0, torch 2.15.0.
import os, struct
import torch
from transformers import LlamaConfig, LlamaForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
out_dir = os.path.join(here, "..", "data", "llama")

def build(name, **kw):
    torch.manual_seed(len(name))
    cfg = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=2, **kw)
    m = LlamaForCausalLM(cfg).float().eval()
    with torch.no_grad():  # larger weights than the default init, so errors are visible
        for n, p in m.named_parameters():
            if "norm" in n:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.08 * torch.randn_like(p))
    d = os.path.join(out_dir, name)
    m.save_pretrained(d, safe_serialization=True)
    g = torch.Generator().manual_seed(7)
    prompts = [torch.randint(0, 512, (T,), generator=g) for T in (1, 5, 17, 40)]
    with open(os.path.join(out_dir, name + ".logits.bin"), "wb") as f:
        f.write(b"QTLOGIT1" + struct.pack("<II", len(prompts), 512))
        for ids in prompts:
            with torch.no_grad():
                logits = m(ids[None]).logits[0].float()
            f.write(struct.pack("<I", len(ids)))
            f.write(ids.to(torch.int32).numpy().astype("<u4").tobytes())
            f.write(logits.numpy().astype("<f4").tobytes())

build("tiny", tie_word_embeddings=True)
build("tiny-untied-llama3", tie_word_embeddings=False,
      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
      rope_theta=500000.0)
build("tiny-linear-rope", tie_word_embeddings=True,
      rope_scaling={"rope_type": "linear", "factor": 2.0})
print("ok")
