#!/usr/bin/env python3
# One optimizer step of prefix tuning on the DEFAULT model (SmolLM2-135M-Instruct, 30 layers,
# GQA 9/3) against PEFT 0.21.2, for tests/kernels/model/test_prefix_smollm2.c. Run from the
# repository root after `make model`:
#
#     /work/venv-ref/bin/python tests/ref/prefix_smollm2_grad_golden.py
#
# Committed output made with torch 2.15.0, transformers 5.25.0, peft 0.21.2 (CPU, fp32). The
# adapter is tests/ref/prefix_smollm2_golden.py's smollm2-prefix (8 slots, N(0, 1)); the blocks
# are the two packed blocks of 128 tokens of tests/data/lora_train_smollm2/grad.pack (three
# samples of the demo data, prompts masked; tests/ref/lora_train_smollm2.py). Each segment runs
# alone through PeftModel (it sees the prefix and itself, never another segment; its tokens take
# positions P.. after the prefix), the step's loss is the CE summed over both blocks' label
# tokens divided by their number N (reference.md 7.6). Writes tests/data/prefix/:
#   smollm2-grad/adapter_model.safetensors  d(summed_ce / N) / d prompt_embeddings, F32 [8, 11520]
#   smollm2-grad.txt                        "summed_ce N"
import os
import shutil
import struct

import numpy as np
import torch
from peft import PeftModel
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..")
OUT = os.path.join(here, "..", "data", "prefix")
PACK = os.path.join(here, "..", "data", "lora_train_smollm2", "grad.pack")
MODEL = os.environ.get("QT_MODEL_DIR", os.path.join(root, "models", "SmolLM2-135M-Instruct"))


def read_pack(path):
    """The (ids, seg, mask) of every block (pack(5): 128-byte header, fixed-size blocks)."""
    raw = open(path, "rb").read()
    hs = struct.unpack_from("<I", raw, 12)[0]
    T, stride = struct.unpack_from("<II", raw, 44)
    n = struct.unpack_from("<Q", raw, 56)[0]
    blocks = []
    for b in range(n):
        o = hs + b * stride
        ids = np.frombuffer(raw, "<u4", T, o)
        seg = np.frombuffer(raw, "<u2", T, o + 4 * T)
        mask = np.frombuffer(raw, "u1", T, o + 6 * T)
        blocks.append((ids, seg, mask))
    return blocks


def block_loss_sum(model, ids, seg, mask):
    total, n = torch.zeros((), dtype=torch.float64), 0
    for s in sorted(set(int(x) for x in seg) - {0}):
        idx = np.nonzero(seg == s)[0]
        x = torch.tensor(ids[idx].astype(np.int64))[None]
        labels = torch.tensor(np.where(mask[idx] == 1, ids[idx].astype(np.int64), -100))[None]
        logits = model(input_ids=x).logits.float()
        sl = labels[0, 1:]
        ce = torch.nn.functional.cross_entropy(logits[0, :-1], sl, ignore_index=-100,
                                               reduction="sum")
        total = total + ce.double()
        n += int((sl != -100).sum())
    return total, n


def main():
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    blocks = read_pack(PACK)
    base = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32,
                                                attn_implementation="eager")
    # PEFT refuses is_trainable=True for a saved prompt-learning adapter: load, then ask for
    # the table's gradient (inference mode: the table is the embedding itself)
    pm = PeftModel.from_pretrained(base, os.path.join(OUT, "smollm2-prefix"))
    pm.eval()  # no dropout anywhere
    emb = pm.prompt_encoder["default"].embedding.weight
    emb.requires_grad_(True)
    n_step = sum(int(m[1:].sum()) for _, _, m in blocks)
    tot = 0.0
    for b in blocks:
        s, _ = block_loss_sum(pm, *b)
        (s / n_step).backward()
        tot += float(s)
    d = os.path.join(OUT, "smollm2-grad")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    save_file({"prompt_embeddings": emb.grad.detach().contiguous()},
              os.path.join(d, "adapter_model.safetensors"))
    with open(os.path.join(OUT, "smollm2-grad.txt"), "w") as f:
        f.write("%.9e %d\n" % (tot, n_step))
    print("smollm2 prefix step: loss %.6f over %d targets, |grad| %.4g"
          % (tot / n_step, n_step, float(emb.grad.norm())))


if __name__ == "__main__":
    main()
