#!/usr/bin/env python3
# Golden np.mean values for rouge-zh's averaging (common/pyfloat.c py_mean), per numpy major:
#     /work/venv-ref/bin/python tests/ref/rouge_npmean.py                  # numpy 2.4.6 → _np2
#     PYTHONPATH=/tmp/np124 /work/venv-ref/bin/python tests/ref/rouge_npmean.py  # 1.24.2 → _np1
# (/tmp/np124 from: pip install --target /tmp/np124 numpy==1.24.2). Writes
# tests/data/rouge_npmean_np<major>.txt: lines "n seed mean" where mean = repr(float(np.mean(v)))
# of v = lcg_values(n, seed), lists of 4-decimal values like the metric's; sizes cross numpy
# 1.x's 8192-element buffer chunks (numpy 2 sums the whole array pairwise: differs at n=8193).
import os
import random

import numpy as np


def lcg_values(n, seed):
    """round(u * 100, 4) for u from a 64-bit LCG (Knuth MMIX); the C test makes the same list."""
    x = seed
    out = []
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append(round((x >> 11) * (1.0 / (1 << 53)) * 100, 4))
    return out


def main():
    rng = random.Random(5)
    sizes = list(range(1, 300)) + [1000, 4097, 8191, 8192, 8193, 10000, 12345, 16383, 16384,
                                   16385, 20000, 24577, 50000, 100000]
    sizes += [rng.randint(8193, 200000) for _ in range(6)]
    major = np.__version__.split(".")[0]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                        "rouge_npmean_np%s.txt" % major)
    with open(path, "w") as f:
        f.write("# numpy %s\n" % np.__version__)
        for n in sizes:
            seed = n * 7919 + 1
            f.write("%d %d %r\n" % (n, seed, float(np.mean(lcg_values(n, seed)))))


if __name__ == "__main__":
    main()
