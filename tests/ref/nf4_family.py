#!/usr/bin/env python3
# NF4 per model family (tests/jobs/test_quantize_nf4_families.c): what transformers + bitsandbytes
# make of each tiny family model of tests/data/family/ (tests/ref/family_golden.py).
#
#   python tests/ref/nf4_family.py [path/to/bin/quantize-nf4 | -] [family ...]
#
# Needs torch, transformers and bitsandbytes (a venv with bitsandbytes from PyPI, e.g.
# /work/venv-bnb = /work/venv-ref + pip install bitsandbytes) and xxhash.
# Committed output produced with transformers 5.25.0, bitsandbytes 0.50.2, torch 2.15.0 (CPU),
# numpy 2.4.6, xxhash 4.1.0.
#
# For each family F, AutoModelForCausalLM.from_pretrained(tests/data/family/F,
# BitsAndBytesConfig(load_in_4bit, nf4, double quant, compute dtype = the model's dtype),
# device_map="cpu", dtype = the model's dtype).save_pretrained(tmp) (bitsandbytes quantizes on the
# CPU), and tests/data/nf4-family/F.txt gets:
#   config  <xxh3 of bitsandbytes' config.json bytes>
#   one line per tensor of its model.safetensors, in name order:
#   <name> <dtype> <shape, comma-separated> <xxh3-64 of the bytes quantize-nf4 must write> <bnb>
#   where <bnb> is "=" when that is bitsandbytes' own saved tensor byte for byte, else the xxh3 of
#   bitsandbytes' bytes, and the comment lines before say why each such tensor differs.
# What quantize-nf4 must write for a quantized weight is bitsandbytes' quantize_4bit arithmetic
# as its CUDA kernels do it (the numpy replica of tests/ref/nf4_golden.py, which compares it with
# bitsandbytes itself) with the double-quantization offset computed as quantize-nf4 documents it
# (the float32 mean of the block maxima summed in double; torch's float32 mean on the CPU can be
# an ulp away). Every difference from bitsandbytes' saved bytes is asserted here to come from
# one of three causes, each replayed:
#   offset  : nested_offset differs in the last ulp (torch CPU's float32 sum vs a double sum),
#             and with it the nested absmax (max |absmax - offset|), nested codes and the blob;
#   cpu-lut : bitsandbytes' CPU 8-bit quantizer (csrc/cpu_ops.cpp, a 65536-entry lookup table)
#             picks the neighbouring nested code where its CUDA kernel does not;
#   cpu-4bit: the default CPU backend's 4-bit codes differ from the CUDA kernel's (all-zero or
#             partial last blocks, ties on the 4 thresholds: see nf4_golden.py).
# Other tensors (embeddings, norms, biases, lm_head) are copied and must be bitsandbytes'.
# With a quantize-nf4 binary given, it also runs it on each family and prints the comparison.
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import xxhash
import bitsandbytes.functional as F
from safetensors import safe_open
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

FAMILIES = ["llama-bias", "mistral-window", "qwen2", "qwen2-window", "qwen3", "gemma", "gemma2",
            "phi3", "glm", "glm4"]
here = os.path.dirname(os.path.abspath(__file__))
fam_dir = os.path.join(here, "..", "data", "family")
out_dir = os.path.join(here, "..", "data", "nf4-family")
os.makedirs(out_dir, exist_ok=True)
f32 = np.float32

# ---- bitsandbytes' CUDA arithmetic, as in tests/ref/nf4_golden.py (copied: that script writes
# its goldens when imported) ----
CODE = F.get_4bit_type("nf4", device="cpu").float().numpy()
DMAP = F.create_dynamic_map(signed=True).float().numpy()
THR_LITERALS = [
    "-0.8480964004993439", "-0.6106329262256622", "-0.4599952697753906", "-0.33967943489551544",
    "-0.23460740596055984", "-0.13791173323988914", "-0.045525018125772476", "0.03979014977812767",
    "0.1202552504837513", "0.2035212516784668", "0.2920137718319893", "0.3893125355243683",
    "0.5016634166240692", "0.6427869200706482", "0.8614784181118011"]


def decimal_to_f32(s):
    from fractions import Fraction
    exact = Fraction(s)
    c = np.float32(float(s))
    cands = [np.nextafter(c, np.float32(-2)), c, np.nextafter(c, np.float32(2))]
    d = [abs(Fraction(float(v)) - exact) for v in cands]
    best = min(d)
    pick = [v for v, dv in zip(cands, d) if dv == best]
    if len(pick) > 1:
        pick = [v for v in pick if int(np.array(v).view(np.uint32)) % 2 == 0]
    return pick[0]


THR = np.array([decimal_to_f32(s) for s in THR_LITERALS], dtype=np.float32)


def cuda_quant4(x, bs):
    n = x.size
    nb = -(-n // bs)
    pad = np.zeros(nb * bs, np.float32)
    pad[:n] = x
    blk = pad.reshape(nb, bs)
    absmax = np.abs(blk).max(1).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = (f32(1.0) / absmax).astype(np.float32)
        xs = (blk * inv[:, None]).astype(np.float32).reshape(-1)
    q = (xs[..., None] > THR).sum(-1).astype(np.uint8)[: n + (n & 1)]
    return ((q[0::2] << 4) | q[1::2]).astype(np.uint8), absmax


def dquantize(x):
    pivot, upper_pivot, lower_pivot = 127, 255, 0
    lower, upper = f32(-1.0), f32(1.0)
    val = DMAP[pivot]
    i = 64
    while i > 0:
        if x > val:
            lower_pivot, lower = pivot, val
            pivot += i
        else:
            upper_pivot, upper = pivot, val
            pivot -= i
        val = DMAP[pivot]
        i >>= 1
    if upper_pivot == 255:
        upper = DMAP[upper_pivot]
    if lower_pivot == 0:
        lower = DMAP[lower_pivot]
    if x > val:
        return upper_pivot if x > f32((upper + val) * f32(0.5)) else pivot
    return lower_pivot if x < f32((lower + val) * f32(0.5)) else pivot


def quant8(absmax, offset, cuda):
    """Nested 8-bit codes and group maxima: the CUDA kernel's, or bnb's CPU lookup table's."""
    v = (absmax - f32(offset)).astype(np.float32)
    q = np.zeros(v.size, np.uint8)
    nabs = []
    mids = (f32(0.5) * (DMAP[:-1] + DMAP[1:])).astype(np.float32)
    vals = (f32(-1.0) + (f32(2.0) * np.arange(65536, dtype=np.float32)) / f32(65535)).astype(np.float32)
    lut = np.searchsorted(mids, vals, side="left").astype(np.uint8)
    for g in range(0, v.size, 256):
        seg = v[g:g + 256]
        m = np.abs(seg).max().astype(np.float32)
        nabs.append(m)
        xs = (seg * (f32(1.0) / m)).astype(np.float32)
        if cuda:
            q[g:g + seg.size] = [dquantize(t) for t in xs]
        else:
            xs = np.clip(xs, -1, 1)
            idx = ((xs + f32(1)) * f32(0.5) * f32(65535) + f32(0.5)).astype(np.float32).astype(np.uint16)
            q[g:g + seg.size] = lut[idx]
    return q, np.array(nabs, np.float32)


def our_offset(absmax):
    # kernels/cpu/nf4_codec.c nf4_absmax_mean: sum in double, rounded to float, divided in float.
    return f32(f32(absmax.astype(np.float64).sum()) / f32(absmax.size))


def h(b):
    return xxhash.xxh3_64_hexdigest(bytes(b))


def raw(t):
    return t.contiguous().view(torch.uint8).reshape(-1).numpy()


def family(fam, qbin):
    src = os.path.join(fam_dir, fam)
    tmp = tempfile.mkdtemp()
    hf = os.path.join(tmp, "hf")
    dt = json.load(open(os.path.join(src, "config.json")))["dtype"]
    tdt = getattr(torch, dt)
    bc = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                            bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=tdt)
    AutoModelForCausalLM.from_pretrained(src, quantization_config=bc, device_map="cpu",
                                         dtype=tdt).save_pretrained(hf)
    b = safe_open(os.path.join(hf, "model.safetensors"), "pt")
    s = safe_open(os.path.join(src, "model.safetensors"), "pt")
    keys = sorted(b.keys())
    qmods = [k[:-len(".weight")] for k in keys if k + ".quant_state.bitsandbytes__nf4" in keys]
    expect = {k: raw(b.get_tensor(k)) for k in keys}   # replaced below for quantized weights
    why = {}
    counts = {"offset-ulp": 0, "cpu-lut codes": 0, "offset codes": 0, "cpu-4bit bytes": 0}
    for m in qmods:
        w = s.get_tensor(m + ".weight").float().numpy().reshape(-1)
        blob = json.loads(bytes(raw(b.get_tensor(m + ".weight.quant_state.bitsandbytes__nf4"))))
        assert blob["quant_type"] == "nf4" and blob["blocksize"] == 64 and blob["dtype"] == dt
        packed, absmax = cuda_quant4(w, 64)
        pb = expect[m + ".weight"]
        d4 = int((packed != pb).sum())
        if d4:
            why.setdefault(m + ".weight", []).append("cpu-4bit: %d bytes" % d4)
            counts["cpu-4bit bytes"] += d4
        expect[m + ".weight"] = packed
        ob = f32(blob["nested_offset"])
        qb = expect[m + ".weight.absmax"]
        nb = expect[m + ".weight.nested_absmax"].view(np.float32)
        # bitsandbytes' own saved nested state, replayed: its CPU table with its offset.
        ql, nl = quant8(absmax, ob, cuda=False)
        assert np.array_equal(nl, nb), m
        assert np.array_equal(ql, qb) or d4, m
        o = our_offset(absmax)
        qo, no = quant8(absmax, o, cuda=True)
        qc, _ = quant8(absmax, ob, cuda=True)
        lut = int((qc != qb).sum())          # same offset: CUDA kernel vs CPU table
        off = int((qo != qc).sum())          # same kernel: our offset vs torch's
        if o != ob:
            ulps = int(np.array(o).view(np.int32)) - int(np.array(ob).view(np.int32))
            counts["offset-ulp"] += 1
            for t in (".weight.nested_absmax", ".weight.quant_state.bitsandbytes__nf4"):
                why.setdefault(m + t, []).append("offset: nested_offset %+d ulp (%r vs bnb %r)"
                                                 % (ulps, float(o), float(ob)))
        if lut or off:
            why.setdefault(m + ".weight.absmax", []).append(
                "%d nested codes: %d cpu-lut, %d offset" % (int((qo != qb).sum()), lut, off))
        counts["cpu-lut codes"] += lut
        counts["offset codes"] += off
        expect[m + ".weight.absmax"] = qo
        expect[m + ".weight.nested_absmax"] = no.view(np.uint8)
        blob["nested_offset"] = float(o)
        expect[m + ".weight.quant_state.bitsandbytes__nf4"] = np.frombuffer(
            json.dumps(blob).encode(), np.uint8)
    cfg = open(os.path.join(hf, "config.json"), "rb").read()
    lines = ["# %s: transformers + bitsandbytes NF4 (tests/ref/nf4_family.py)" % fam,
             "# quantized: %d Linear weights: %s" % (len(qmods), " ".join(sorted(
                 set(q.split(".")[-1] for q in qmods)))),
             "# tensors: %d, identical to bitsandbytes': %d; %s" % (
                 len(keys), sum(np.array_equal(expect[k], raw(b.get_tensor(k))) for k in keys),
                 ", ".join("%s %d" % kv for kv in counts.items()))]
    for k in keys:
        for r in why.get(k, []):
            lines.append("# %s: %s" % (k, r))
    lines.append("config %s" % h(cfg))
    for k in keys:
        t = b.get_tensor(k)
        bh = h(raw(t))
        eh = h(expect[k])
        dts = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16",
               torch.uint8: "U8"}[t.dtype]
        shape = list(t.shape)
        if k.endswith(".quant_state.bitsandbytes__nf4"):
            shape = [expect[k].size]
        lines.append("%s %s %s %s %s" % (k, dts, ",".join(map(str, shape)) or "-", eh,
                                         "=" if eh == bh else bh))
    with open(os.path.join(out_dir, fam + ".txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(l for l in lines if l.startswith("#")))

    if qbin:
        ours = os.path.join(tmp, "ours")
        subprocess.run([qbin, "-q", "-o", ours, src], check=True)
        a = safe_open(os.path.join(ours, "model.safetensors"), "pt")
        assert sorted(a.keys()) == keys, fam
        bad = [k for k in keys if not np.array_equal(raw(a.get_tensor(k)), expect[k])]
        same_bnb = sum(np.array_equal(raw(a.get_tensor(k)), raw(b.get_tensor(k))) for k in keys)
        print("%s: quantize-nf4: %d of %d tensors as expected, %d identical to bitsandbytes; "
              "config.json identical: %s" % (fam, len(keys) - len(bad), len(keys), same_bnb,
              open(os.path.join(ours, "config.json"), "rb").read() == cfg))
        for k in bad:
            print("  differs:", k)
    shutil.rmtree(tmp)


for fam in (sys.argv[2:] or FAMILIES):
    family(fam, sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "-" else None)
