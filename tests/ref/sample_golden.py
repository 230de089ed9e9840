#!/usr/bin/env python3
# Golden values for kernels/sample (gen's logits processors), from transformers' own
# LogitsProcessor classes. Writes tests/data/sample/golden.json.
# Run: /work/venv-ref/bin/python tests/ref/sample_golden.py   (committed output made with
# transformers 5.23.0, torch 2.15.0)
import json, os
import torch
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper,
    TopPLogitsWarper, MinPLogitsWarper)

g = torch.Generator().manual_seed(1234)
cases = []
configs = [
    dict(rep=1.0, t=1.0, k=0, p=1.0, m=0.0),
    dict(rep=1.3, t=1.0, k=0, p=1.0, m=0.0),
    dict(rep=1.0, t=0.95, k=50, p=0.7, m=0.0),   # the ChatGLM preset (reference 8.4)
    dict(rep=1.0, t=0.7, k=0, p=0.9, m=0.0),
    dict(rep=1.1, t=1.2, k=10, p=1.0, m=0.0),
    dict(rep=1.0, t=1.0, k=0, p=1.0, m=0.1),
    dict(rep=1.2, t=0.8, k=40, p=0.95, m=0.05),
    dict(rep=1.0, t=1.0, k=3, p=1.0, m=0.0),
]
for ci, c in enumerate(configs):
    for V in (7, 1000, 4099):
        logits = torch.randn(1, V, generator=g) * 3
        if V >= 1000:  # some exact ties, as quantized models produce
            logits[0, 10:20] = logits[0, 5]
        hist = torch.randint(0, V, (1, 30), generator=g)
        s = logits.clone()
        if c["rep"] != 1.0:
            s = RepetitionPenaltyLogitsProcessor(c["rep"])(hist, s)
        after_rep = s.clone()
        if c["t"] != 1.0:
            s = TemperatureLogitsWarper(c["t"])(hist, s)
        if c["k"]:
            s = TopKLogitsWarper(c["k"])(hist, s)
        if c["p"] < 1.0:
            s = TopPLogitsWarper(c["p"])(hist, s)
        if c["m"] > 0:
            s = MinPLogitsWarper(c["m"])(hist, s)
        cases.append(dict(V=V, **c,
                          logits=[float(x) for x in logits[0]],
                          hist=[int(x) for x in hist[0]],
                          greedy=int(torch.argmax(after_rep[0])),
                          keep=[int(i) for i in torch.nonzero(s[0] != -float("inf")).flatten()]))
out = os.path.join(os.path.dirname(__file__), "..", "data", "sample", "golden.json")
with open(out, "w") as f:
    json.dump(cases, f)
print(out, len(cases))
