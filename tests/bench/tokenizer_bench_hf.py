#!/usr/bin/env python3
# qlora-tools: ISC license.
"""HF tokenizers encode_batch throughput, the peer of tokenizer_bench.c (same corpus, repeat,
thread count through RAYON_NUM_THREADS, which must be set before this runs).
Prints "hf <threads> <seconds> <tokens> <fnv>" (best of 2 timed passes after a warm-up)."""
import json
import os
import sys
import time

from tokenizers import Tokenizer


def main():
    tok_path, corpus, threads, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    assert os.environ.get("RAYON_NUM_THREADS") == threads
    with open(corpus, encoding="utf-8") as f:
        items = [json.loads(line) for line in f] * repeat
    tok = Tokenizer.from_file(tok_path)
    best = None
    for p in range(3):
        t0 = time.perf_counter()
        enc = tok.encode_batch_fast(items, add_special_tokens=False) \
            if hasattr(tok, "encode_batch_fast") else \
            tok.encode_batch(items, add_special_tokens=False)
        dt = time.perf_counter() - t0
        if p > 0 and (best is None or dt < best):
            best = dt
    h = 0xcbf29ce484222325
    n = 0
    for e in enc:
        for i in e.ids:
            h = ((h ^ i) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
            n += 1
    print("hf %s %.4f %d %016x" % (threads, best, n, h))


if __name__ == "__main__":
    main()
