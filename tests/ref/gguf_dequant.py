#!/usr/bin/env python3
# Golden data for formats/gguf + kernels/ggml_dequant: random blocks of every supported ggml
# type (block scale fields replaced by finite random halves), written with gguf.GGUFWriter to
# tests/data/gguf/dequant.gguf, and their dequantization by gguf.quants.dequantize written as
# F32 to tests/data/gguf/dequant_expected.safetensors (same tensor names). The C test must
# reproduce every value bit for bit.
#   /work/venv-ref/bin/python tests/ref/gguf_dequant.py
# Committed output produced with gguf 0.19.0 (gguf-py), numpy 2.4.6, safetensors 0.8.0.
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize
from safetensors.numpy import save_file

rng = np.random.default_rng(42)
# byte offsets of the f16 scale fields inside one block
HALVES = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
          T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
w = gguf.GGUFWriter("tests/data/gguf/dequant.gguf", "llama")
expected = {}
for qt in [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K,
           T.Q4_K, T.Q5_K, T.Q6_K]:
    blck, size = gguf.GGML_QUANT_SIZES[qt]
    rows, cols = 3, (blck * 16 if blck > 1 else 512)
    nb = rows * cols // blck
    raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    if qt == T.F32:
        vals = (rng.standard_normal(rows * cols) * 10.0 ** rng.integers(-40, 38, rows * cols)).astype(np.float32)
        vals[:4] = [np.inf, -np.inf, 1e-45, -0.0]
        raw = vals.view(np.uint8).reshape(nb, size)
    elif qt == T.F16:
        h = raw.view(np.uint16)
        h[(h & 0x7C00) == 0x7C00] &= 0xFC00  # NaN patterns -> inf (payloads are not compared)
    for off in HALVES.get(qt, []):
        d = (rng.standard_normal(nb) * 10.0 ** rng.integers(-6, 2, nb)).astype(np.float16)
        raw[:, off:off + 2] = d.view(np.uint8).reshape(nb, 2)
    data = raw.reshape(rows, cols // blck * size)
    name = "t_" + qt.name.lower()
    w.add_tensor(name, data, raw_dtype=qt)
    expected[name] = dequantize(data, qt).astype(np.float32).reshape(rows, cols)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
save_file(expected, "tests/data/gguf/dequant_expected.safetensors")
print({k: v.shape for k, v in expected.items()})
