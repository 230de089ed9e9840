"""Makes the random models tests/gpu/check.sh runs on a GPU machine, where no model can be
downloaded and the default model's weights do not fit the carry:
  OUT/default  SmolLM2-135M-Instruct's shapes (its config.json) and tokenizer, random weights
  OUT/tiny     tests/data/sft-tiny (hidden 16, 2 layers) with SmolLM2's tokenizer
  OUT/1b       a ~1.2B Llama (TinyLlama's shapes: hidden 2048, 22 layers, MLP 5632, 32 heads,
               4 KV heads; SmolLM2's 49152-token vocabulary and tokenizer; untied head)
bf16 safetensors, as checkpoints on the Hub are. Weights from torch's default initialisation
(std = initializer_range) with a fixed seed; a deterministic function of the seed on one torch
version, which is all the checks need: every comparison is made on the machine that made them.
Usage: python3 tests/gpu/make-models.py MODEL_CARRY_DIR OUT [SMALL]  (SMALL=1: a 2-layer '1b'
for rehearsing the script on a machine without a GPU)"""
import json, os, shutil, sys
import torch
from transformers import LlamaConfig, LlamaForCausalLM

src, out = sys.argv[1], sys.argv[2]
small = len(sys.argv) > 3 and sys.argv[3] == "1"
dev = "cuda" if torch.cuda.is_available() else "cpu"
tok_files = [f for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
             if os.path.exists(os.path.join(src, f))]


def save(cfg, name, seed):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    with torch.device(dev):
        m = LlamaForCausalLM(cfg)
    m.to(torch.bfloat16).save_pretrained(d, safe_serialization=True)
    for f in tok_files:
        shutil.copy(os.path.join(src, f), d)
    n = sum(p.numel() for p in m.parameters())
    print(f"{name}: {n / 1e6:.1f}M parameters, {cfg.num_hidden_layers} layers -> {d}", flush=True)
    del m


with open(os.path.join(src, "config.json")) as f:
    base = json.load(f)
save(LlamaConfig(**base), "default", 1)

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "data", "sft-tiny", "config.json")) as f:
    tiny = json.load(f)
d = os.path.join(out, "tiny")
os.makedirs(d, exist_ok=True)
for f in ("config.json", "generation_config.json", "model.safetensors"):
    shutil.copy(os.path.join(here, "..", "data", "sft-tiny", f), d)
for f in tok_files:
    shutil.copy(os.path.join(src, f), d)
print(f"tiny: tests/data/sft-tiny -> {d}", flush=True)

big = dict(base)
big.update(hidden_size=2048, intermediate_size=5632, num_hidden_layers=2 if small else 22,
           num_attention_heads=32, num_key_value_heads=4, head_dim=64, tie_word_embeddings=False,
           max_position_embeddings=4096)
save(LlamaConfig(**big), "1b", 2)
