#!/usr/bin/env python3
# Golden values for common/half.c: f32 -> f16 and f32 -> bf16 as torch converts them, and every
# f16 bit pattern -> f32 as numpy converts it.
#   /work/venv-ref/bin/python tests/ref/half.py   (from the repository root)
# Writes tests/data/half/golden.bin. Committed output produced with torch 2.15.0, numpy 2.4.6.
# Layout (little-endian): "QTHALF01", u32 n, n x u32 f32 inputs, n x u16 f16 (torch),
# n x u16 bf16 (torch), 65536 x u32 (f32 bits of f16 pattern i, numpy).
import struct
import numpy as np
import torch

rng = np.random.default_rng(1234)
edge = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 65536.0, 1e10, -1e10,
        2.0**-14, 2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001, 2.0**-26, 3 * 2.0**-25, 1e-8, 1e-45,
        np.inf, -np.inf, 3.4028235e38, 1.1754944e-38, 0.1, 1 / 3, 1.00048828125, 1.0014648437]
edge = np.array(edge, dtype=np.float32).view(np.uint32)
# random bit patterns over the whole range, then values near the f16 ranges (ties included)
bits = rng.integers(0, 2**32, size=60000, dtype=np.uint64).astype(np.uint32)
near = (rng.standard_normal(20000) * 10.0 ** rng.integers(-8, 5, 20000)).astype(np.float32).view(np.uint32)
ties = (rng.integers(0, 2**16, 10000).astype(np.uint32) << 16) | 0x8000  # exact bf16 ties
ties16 = (rng.integers(0, 2**19, 10000).astype(np.uint32) << 13 | 0x1000) + (113 << 23)
sub16 = rng.integers(102 << 23, 113 << 23, 10000, dtype=np.uint64).astype(np.uint32)
x = np.concatenate([edge, bits, near, ties, ties16, sub16]).astype(np.uint32)
xf = x.view(np.float32)
keep = ~np.isnan(xf)
x = x[keep]
xf = x.view(np.float32)
t = torch.from_numpy(xf.copy())
f16 = t.to(torch.float16).view(torch.int16).numpy().view(np.uint16)
bf16 = t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
# numpy agrees with torch on f16 for all non-NaN inputs
assert (xf.astype(np.float16).view(np.uint16) == f16).all()
allh = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32).view(np.uint32)
with open("tests/data/half/golden.bin", "wb") as f:
    f.write(b"QTHALF01" + struct.pack("<I", len(x)))
    f.write(x.astype("<u4").tobytes())
    f.write(f16.astype("<u2").tobytes())
    f.write(bf16.astype("<u2").tobytes())
    f.write(allh.astype("<u4").tobytes())
print(len(x), "values")
