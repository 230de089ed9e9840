#!/usr/bin/env python3
# A tiny random Llama with the default model's tokenizer, for gen's CLI tests (tests/cli/gen):
#   tests/data/gen/tiny/{config.json, generation_config.json, model.safetensors}  (bf16, tied,
#   1 layer, hidden 8, 2 heads / 1 kv head, intermediate 16, vocab 49152, context 64)
#   tests/data/gen/tiny/tokenizer.json, tokenizer_config.json: symlinks to
#   tests/data/tokenizer/smollm2/ (SmolLM2's byte-level BPE and ChatML template).
# Run from the repository root:  /work/venv-ref/bin/python tests/ref/gen_tiny_model.py
# Committed output made with torch 2.15.0, transformers 5.23.0.
import os
import torch
from transformers import LlamaConfig, LlamaForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
d = os.path.join(here, "..", "data", "gen", "tiny")
torch.manual_seed(3)
cfg = LlamaConfig(vocab_size=49152, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                  num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                  rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=2,
                  tie_word_embeddings=True, rope_theta=100000.0)
m = LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
with torch.no_grad():
    for n, p in m.named_parameters():
        p.copy_(1.0 + 0.1 * torch.randn_like(p) if "norm" in n else (2.0 if "layers" in n else 0.05) * torch.randn_like(p))
m.save_pretrained(d, safe_serialization=True)
for f in ("tokenizer.json", "tokenizer_config.json"):
    link = os.path.join(d, f)
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.join("..", "..", "tokenizer", "smollm2", f), link)

# transformers' greedy continuations (8 new tokens, fp32) of the prompts of
# tests/cli/gen/greedy-tiny.sh, as comma-separated ids: tests/data/gen/tiny-greedy.ids
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(d)
m = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
with open(os.path.join(d, "..", "tiny-greedy.ids"), "w") as f:
    for p in ["类型#上衣*颜色#白色", "hello", "What is the capital of France?"]:
        ids = tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                      tokenize=True, return_dict=True,
                                      return_tensors="pt")["input_ids"]
        with torch.no_grad():
            r = m.generate(ids, do_sample=False, max_new_tokens=8)
        new = r[0, ids.shape[1]:].tolist()
        if 2 in new:
            new = new[:new.index(2)]
        f.write(",".join(str(i) for i in new) + "\n")
