#!/usr/bin/env python3
# Goldens for the engine's forward on NF4 weights and on the default model (tests/kernels/
# test_llama_nf4.c, tests/kernels/model/test_llama_smollm2.c):
#
#   tests/data/llama_nf4/tiny-nf4.logits.bin
#       transformers fp32 logits of tests/data/lora/base-nf4 (bitsandbytes' own NF4 files, made
#       by tests/ref/lora.py), every Linear4bit replaced by a dense Linear holding
#       bnb.functional.dequantize_4bit of its weight. Format "QTLOGIT1" as llama_golden.py.
#   tests/data/llama_smollm2/logits.bin        models/SmolLM2-135M-Instruct in fp32
#   tests/data/llama_smollm2/logits-nf4.bin    the same model after bin/quantize-nf4 (default
#       options), loaded by transformers + bitsandbytes from that directory and dequantized the
#       same way (dequantize_4bit returns the quant_state dtype, bfloat16, then cast to fp32).
#   Both default-model files keep a slice of the logits (full rows would be 190 KiB each):
#       "QTLOGSL1", u32 n_prompts, u32 V, u32 S, u32 K, S x u32 ids (every 193rd vocab id);
#       per prompt: u32 T, T x u32 ids, then per position: f32 max|logit| over the whole row,
#       K x (u32 id, f32 logit) the top K in descending order, S x f32 logits at the fixed ids.
#       All little-endian.
#
# Run from the repository root after `make` (needs bin/quantize-nf4 and the default model):
#   /work/venv-ref/bin/python tests/ref/llama_smollm2_golden.py
# Committed output made with torch 2.15.0, transformers 5.23.0, bitsandbytes 0.50.2,
# tokenizers 0.23.3 (CPU).
import os, struct, subprocess, sys, tempfile
import torch
import bitsandbytes.functional as bnbf
from transformers import AutoTokenizer, LlamaForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..")
data = os.path.join(here, "..", "data")
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
MODEL = os.environ.get("QT_MODEL_DIR", os.path.join(root, "models", "SmolLM2-135M-Instruct"))

torch.set_num_threads(2)


def dense_from_nf4(nf4_dir):
    """transformers loads the bnb-4bit directory; each Linear4bit becomes a dense fp32 Linear
    with dequantize_4bit's weight (cast from the quant_state dtype to fp32)."""
    m4 = LlamaForCausalLM.from_pretrained(nf4_dir, device_map="cpu", dtype=torch.float32)
    dense_cfg = m4.config
    dense_cfg.quantization_config = None
    if hasattr(dense_cfg, "_pre_quantization_dtype"):
        del dense_cfg._pre_quantization_dtype
    d = LlamaForCausalLM(dense_cfg).float().eval()
    sd = {k: v for k, v in m4.state_dict().items()
          if not any(s in k for s in (".absmax", ".quant_map", ".nested_", ".quant_state"))}
    with torch.no_grad():
        for k, v in d.state_dict().items():
            if k in sd and sd[k].dtype != torch.uint8:
                v.copy_(sd[k].float())
        for l4, ld in zip(m4.model.layers, d.model.layers):
            for mod in MODULES:
                blk4 = l4.self_attn if hasattr(l4.self_attn, mod) else l4.mlp
                blkd = ld.self_attn if hasattr(ld.self_attn, mod) else ld.mlp
                w = getattr(blk4, mod).weight
                deq = bnbf.dequantize_4bit(w.data, w.quant_state)
                assert deq.dtype == w.quant_state.dtype
                getattr(blkd, mod).weight.copy_(deq.float())
        if d.config.tie_word_embeddings:
            d.lm_head.weight = d.model.embed_tokens.weight
    return d


def tiny():
    d = dense_from_nf4(os.path.join(data, "lora", "base-nf4"))
    g = torch.Generator().manual_seed(5)
    prompts = [torch.randint(0, 256, (T,), generator=g) for T in (1, 6, 23)]
    os.makedirs(os.path.join(data, "llama_nf4"), exist_ok=True)
    with open(os.path.join(data, "llama_nf4", "tiny-nf4.logits.bin"), "wb") as f:
        f.write(b"QTLOGIT1" + struct.pack("<II", len(prompts), 256))
        for ids in prompts:
            with torch.no_grad():
                lg = d(ids[None]).logits[0].float()
            f.write(struct.pack("<I", len(ids)))
            f.write(ids.to(torch.int32).numpy().astype("<u4").tobytes())
            f.write(lg.numpy().astype("<f4").tobytes())


PROMPTS_CHAT = [
    "What is the capital of France?",
    "请用一句话介绍一下长城。",
    "Write a haiku about autumn leaves.",
    "类型#上衣*颜色#白色*风格#简约*图案#条纹",
]
PROMPTS_RAW = [
    "The quick brown fox jumps over the lazy dog. In 1905, Albert Einstein published",
    "人工智能是计算机科学的一个分支，它企图了解智能的实质，并生产出一种新的能以人类智能相似的方式做出反应的智能机器。",
]


def prompts(tok):
    out = []
    for p in PROMPTS_CHAT:
        out.append(tok.apply_chat_template([{"role": "user", "content": p}],
                                           add_generation_prompt=True, tokenize=False))
    out += PROMPTS_RAW
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in out]
    return [torch.tensor(i) for i in ids]


S_STRIDE, K = 193, 16


def write_slices(model, plist, path):
    V = model.config.vocab_size
    sub = torch.arange(0, V, S_STRIDE)
    with open(path, "wb") as f:
        f.write(b"QTLOGSL1" + struct.pack("<IIII", len(plist), V, len(sub), K))
        f.write(sub.to(torch.int32).numpy().astype("<u4").tobytes())
        for ids in plist:
            with torch.no_grad():
                lg = model(ids[None]).logits[0].float()
            f.write(struct.pack("<I", len(ids)))
            f.write(ids.to(torch.int32).numpy().astype("<u4").tobytes())
            for t in range(len(ids)):
                row = lg[t]
                top = torch.topk(row, K)
                f.write(struct.pack("<f", row.abs().max().item()))
                for i, v in zip(top.indices.tolist(), top.values.tolist()):
                    f.write(struct.pack("<If", i, v))
                f.write(row[sub].numpy().astype("<f4").tobytes())


def default_model():
    out = os.path.join(data, "llama_smollm2")
    os.makedirs(out, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(MODEL)
    plist = prompts(tok)
    m = LlamaForCausalLM.from_pretrained(MODEL, dtype=torch.float32).eval()
    write_slices(m, plist, os.path.join(out, "logits.bin"))
    del m
    with tempfile.TemporaryDirectory() as tmp:
        q = os.path.join(tmp, "nf4")
        subprocess.run([os.path.join(root, "bin", "quantize-nf4"), "--quiet", MODEL, "-o", q],
                       check=True)
        m = dense_from_nf4(q).eval()
        write_slices(m, plist, os.path.join(out, "logits-nf4.bin"))


if __name__ == "__main__":
    tiny()
    if len(sys.argv) < 2 or sys.argv[1] != "--tiny-only":
        default_model()
