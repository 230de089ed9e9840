#!/usr/bin/env python3
# Model-level NF4 reference (tests/formats/test_nf4_format.c): a tiny random bf16 Llama and what
# transformers + bitsandbytes make of it.
#
#   /work/venv-ref/bin/python tests/ref/nf4_model.py [path/to/bin/quantize-nf4]
#
# Committed output produced with transformers 5.23.0, bitsandbytes 0.50.2, torch 2.15.0 (CPU).
# Writes tests/data/nf4-model/:
#   src/          config.json + model.safetensors (bf16, untied lm_head, hidden 64, 2 layers,
#                 intermediate 192: bitsandbytes 0.50.2 CPU forward (_convert_weight_packed_for_cpu)
#                 fails when in_features % 64 != 0) + generation_config.json
#   hf-nf4/       AutoModelForCausalLM.from_pretrained(src, BitsAndBytesConfig(load_in_4bit,
#                 nf4, double quant, compute bf16), device_map="cpu").save_pretrained(...)
#   hf-nf4.dequant.bin  "QTNF4DQ1", u32 count, then per Linear: u32 name length, name,
#                 u32 rows, u32 cols, rows*cols bf16 = bitsandbytes dequantize_4bit of hf-nf4
# With a quantize-nf4 binary given, it also quantizes src with it and checks that
# transformers loads that directory and computes the same logits as on hf-nf4.
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import bitsandbytes.functional as F
from safetensors import safe_open
from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "data", "nf4-model")
src, hf = os.path.join(out, "src"), os.path.join(out, "hf-nf4")
for d in (src, hf):
    shutil.rmtree(d, ignore_errors=True)

torch.manual_seed(4)
cfg = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=192, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=2,
                  tie_word_embeddings=False)
LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(src)

bnbc = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                          bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16)


def load_q(path, **kw):
    return AutoModelForCausalLM.from_pretrained(path, device_map="cpu", dtype=torch.bfloat16, **kw).eval()


q = load_q(src, quantization_config=bnbc)
q.save_pretrained(hf)

linears = []
for name, mod in q.named_modules():
    if type(mod).__name__ == "Linear4bit":
        w = F.dequantize_4bit(mod.weight.data, mod.weight.quant_state)
        linears.append((name, w))
with open(os.path.join(out, "hf-nf4.dequant.bin"), "wb") as f:
    f.write(b"QTNF4DQ1" + struct.pack("<I", len(linears)))
    for name, w in linears:
        nb = name.encode()
        f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<II", *w.shape))
        f.write(w.contiguous().view(torch.int16).numpy().tobytes())
print("hf-nf4: %d Linear4bit weights" % len(linears))

ids = torch.tensor([[1, 17, 33, 250, 7, 411, 5, 99]])
with torch.no_grad():
    ref_logits = q(ids).logits.float()

if len(sys.argv) > 1:
    tmp = tempfile.mkdtemp()
    ours = os.path.join(tmp, "ours")
    subprocess.run([sys.argv[1], "-q", src, "-o", ours], check=True)
    a = safe_open(os.path.join(ours, "model.safetensors"), "pt")
    b = safe_open(os.path.join(hf, "model.safetensors"), "pt")
    assert set(a.keys()) == set(b.keys())
    same = diff_bytes = 0
    for k in sorted(a.keys()):
        x, y = a.get_tensor(k), b.get_tensor(k)
        assert x.dtype == y.dtype and x.shape == y.shape, k
        xb, yb = x.contiguous().view(torch.uint8).reshape(-1), y.contiguous().view(torch.uint8).reshape(-1)
        same += int(torch.equal(xb, yb))
        diff_bytes += int((xb != yb).sum())
    print("ours vs transformers: %d of %d tensors byte-identical, %d bytes differ" % (same, len(a.keys()), diff_bytes))
    print("config.json identical:", open(os.path.join(ours, "config.json")).read() == open(os.path.join(hf, "config.json")).read())
    m = load_q(ours)
    assert type(m.model.layers[0].self_attn.q_proj).__name__ == "Linear4bit"
    with torch.no_grad():
        lg = m(ids).logits.float()
    print("transformers loads ours: max |logits - logits(hf-nf4)| = %.3g" % (lg - ref_logits).abs().max().item())
    shutil.rmtree(tmp)
