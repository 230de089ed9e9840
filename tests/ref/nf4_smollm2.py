#!/usr/bin/env python3
# Real-model NF4 check (no golden output): quantize-nf4 on the default model against
# transformers + bitsandbytes quantizing the same directory on CPU.
#
#   make model && make
#   /work/venv-ref/bin/python tests/ref/nf4_smollm2.py [MODEL_DIR] [bin/quantize-nf4]
#
# Last run (transformers 5.23.0, bitsandbytes 0.50.2, torch 2.15.0, CPU): all 210 packed
# weights, quant_state blobs (nested_offset included), nested_absmax and kept tensors
# byte-identical; nested 8-bit codes: 3808 of 1658880 differ, every one of them where
# bitsandbytes' CPU lookup table (csrc/cpu_ops.cpp, replayed here) departs from the CUDA binary
# search that quantize-nf4 implements; transformers loads our directory (max |logits|
# difference to its own quantization 1.25 on a 10-token prompt, both about equally far from
# the bf16 model: 22.56 and 22.19).
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.join(here, "..", "..")
model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(top, "models", "SmolLM2-135M-Instruct")
tool = sys.argv[2] if len(sys.argv) > 2 else os.path.join(top, "bin", "quantize-nf4")

# The replica functions of nf4_golden.py (everything before its first test case).
src = open(os.path.join(here, "nf4_golden.py")).read().split("\ndef unpack")[0]
g = {"__file__": os.path.join(here, "nf4_golden.py")}
argv, sys.argv = sys.argv, ["x", tempfile.mkdtemp()]
exec(src, g)
sys.argv = argv

tmp = tempfile.mkdtemp()
ours, hf = os.path.join(tmp, "ours"), os.path.join(tmp, "hf")
subprocess.run([tool, "-q", model, "-o", ours], check=True)
bnbc = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                          bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16)
q = AutoModelForCausalLM.from_pretrained(model, quantization_config=bnbc, device_map="cpu",
                                         dtype=torch.bfloat16).eval()
q.save_pretrained(hf)

s = safe_open(os.path.join(model, "model.safetensors"), "pt")
a = safe_open(os.path.join(ours, "model.safetensors"), "pt")
b = safe_open(os.path.join(hf, "model.safetensors"), "pt")
assert set(a.keys()) == set(b.keys())
same = 0
n8 = d8 = unexplained = 0
for k in sorted(a.keys()):
    x, y = a.get_tensor(k), b.get_tensor(k)
    assert x.dtype == y.dtype and x.shape == y.shape, k
    if torch.equal(x.contiguous().view(torch.uint8), y.contiguous().view(torch.uint8)):
        same += 1
    if k.endswith(".weight.absmax"):
        p = k[: -len(".weight.absmax")]
        w = s.get_tensor(p + ".weight").float().numpy().reshape(-1)
        _, am = g["cuda_quant4"](w, 64)
        off = np.float32(json.loads(bytes(a.get_tensor(p + ".weight.quant_state.bitsandbytes__nf4").tolist()))["nested_offset"])
        qa, qb = x.numpy(), y.numpy()
        n8 += qa.size
        d8 += int((qa != qb).sum())
        unexplained += int((g["cpu_lut_quant8"](am, off) != qb).sum())
    elif not torch.equal(x.contiguous().view(torch.uint8), y.contiguous().view(torch.uint8)):
        print("DIFFERS:", k)
print("tensors byte-identical: %d of %d" % (same, len(a.keys())))
print("nested codes: %d, differing %d, not explained by bnb's CPU lookup table: %d" % (n8, d8, unexplained))
ids = torch.tensor([[1, 9690, 198, 2683, 359, 253, 5356, 5646, 28, 2]])
m = AutoModelForCausalLM.from_pretrained(ours, device_map="cpu", dtype=torch.bfloat16).eval()
base = AutoModelForCausalLM.from_pretrained(model, device_map="cpu", dtype=torch.bfloat16).eval()
with torch.no_grad():
    lo, lq, lb = m(ids).logits.float(), q(ids).logits.float(), base(ids).logits.float()
print("max |logits| difference, transformers on our directory vs on its own: %.4g" % (lo - lq).abs().max().item())
print("  (for scale: vs the bf16 model, ours %.4g, transformers' own %.4g; the gap comes from"
      " the nested codes above)" % ((lo - lb).abs().max().item(), (lq - lb).abs().max().item()))
shutil.rmtree(tmp)
