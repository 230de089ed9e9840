#!/usr/bin/env python3
# bitsandbytes' side of tests/bench/nf4-bench.sh: writes the bf16 tensor (seeded normal * 0.02,
# [ROWS, COLS]) to FILE if it does not exist, then prints the best-of-3 seconds of
# bitsandbytes.functional.quantize_4bit(t, blocksize=64, quant_type="nf4",
# compress_statistics=True) on CPU with THREADS torch threads.
#   /work/venv-ref/bin/python tests/bench/nf4-bench.py FILE ROWS COLS THREADS
import os
import sys
import time

import torch
import bitsandbytes.functional as F

path, rows, cols, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
if not os.path.exists(path):
    g = torch.Generator().manual_seed(7)
    t = (torch.randn(rows, cols, generator=g) * 0.02).to(torch.bfloat16)
    t.view(torch.int16).numpy().tofile(path)
t = torch.from_file(path, size=rows * cols, dtype=torch.bfloat16).reshape(rows, cols)
F.quantize_4bit(t[:64], blocksize=64, quant_type="nf4", compress_statistics=True)  # warm-up
best = 1e30
for _ in range(3):
    t0 = time.perf_counter()
    F.quantize_4bit(t, blocksize=64, quant_type="nf4", compress_statistics=True)
    best = min(best, time.perf_counter() - t0)
print("%.4f" % best)
