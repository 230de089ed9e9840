#!/usr/bin/env python3
# Golden check for formats/safetensors, both directions.
#   make build/tests/formats/test_safetensors && /work/venv-ref/bin/python tests/ref/safetensors_golden.py
# 1. Writes tests/data/safetensors/python.safetensors with Python's safetensors (the tensors
#    and values that tests/formats/test_safetensors.c expects; the C test reads it).
# 2. Runs the C test with QT_ST_OUT=<tmp> so that our writer writes its round-trip file, loads
#    that with safetensors.numpy.load_file and compares every tensor and the metadata; the
#    verdict goes to tests/data/safetensors/python_check.txt.
# Committed output produced with safetensors 0.8.0, numpy 2.4.6, torch 2.15.0.
import os, subprocess, sys, tempfile
import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

def golden(dtype, n):
    i = np.arange(n, dtype=np.int64)
    if dtype == "u8":
        return (i % 251).astype(np.float64)
    if dtype in ("i8", "i32", "i64"):
        return (i % 200 - 100).astype(np.float64)
    return ((i * 7) % 255 - 127) * 0.25

spec = [("a.f32", torch.float32, "f", (3, 5)), ("b.f16", torch.float16, "f", (7,)),
        ("c.bf16", torch.bfloat16, "f", (2, 3, 4)), ("d.u8", torch.uint8, "u8", (13,)),
        ("e.i8", torch.int8, "i8", (1, 9)), ("f.i32", torch.int32, "i32", (6,)),
        ("g.i64", torch.int64, "i64", (3,)), ("h.f64", torch.float64, "f", (2,)),
        ("scalar", torch.float32, "f", ()), ("empty", torch.float32, "f", (0, 4))]

def make():
    out = {}
    for name, dt, kind, shape in spec:
        n = int(np.prod(shape)) if shape else 1
        out[name] = torch.tensor(golden(kind, n)).to(dt).reshape(shape)
    return out

ref = make()
save_file(ref, "tests/data/safetensors/python.safetensors", metadata={"format": "pt"})

lines = []
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "c.safetensors")
    env = dict(os.environ, QT_ST_OUT=path, QT_TEST_SRCDIR="tests")
    subprocess.run(["build/tests/formats/test_safetensors"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    ok = True
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        lines.append(f"metadata: {sorted(meta.items())}")
        ok &= meta == {"format": "pt", "note": 'q"uote\\'}
        keys = sorted(f.keys())
        ok &= keys == sorted(ref)
        for k in keys:
            t = f.get_tensor(k)
            same = t.dtype == ref[k].dtype and t.shape == ref[k].shape and torch.equal(t, ref[k])
            ok &= same
            lines.append(f"{k}: {str(t.dtype)} {list(t.shape)} {'identical' if same else 'DIFFERENT'}")
    lines.append("verdict: " + ("C-written file loads in Python safetensors with identical tensors"
                               if ok else "MISMATCH"))
with open("tests/data/safetensors/python_check.txt", "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(0 if ok else 1)
