#!/usr/bin/env python3
# Golden tensors for tests/kernels/test_geglu.c (tests/data/kernels/geglu.bin, the layout of
# tests/ref/kernels_golden.py): Gemma's MLP gate, F.gelu(gate, approximate="tanh") * up, and its
# autograd. Run from the repository root:  /work/venv-ref/bin/python tests/ref/geglu_golden.py
# Committed output produced with torch 2.15.0 (CPU), float32.
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernels_golden import write  # noqa: E402

torch.manual_seed(4321)
d = {}
for i, (T, H) in enumerate([(3, 11), (1, 1536)]):
    g = (torch.randn(T, H) * 3).requires_grad_(True)
    u = torch.randn(T, H, requires_grad=True)
    out = F.gelu(g, approximate="tanh") * u
    dout = torch.randn_like(out)
    (out * dout).sum().backward()
    d.update({f"g{i}": g, f"u{i}": u, f"out{i}": out, f"dout{i}": dout, f"dg{i}": g.grad,
              f"du{i}": u.grad})
write("geglu", d)
print("ok")
