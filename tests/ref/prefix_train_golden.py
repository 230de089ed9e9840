#!/usr/bin/env python3
# A prefix-tuning training curve against PEFT 0.21.2 (PREFIX_TUNING) + a torch loop with the HF
# Trainer's step semantics, for tests/cli/lora-train/prefix-curve.sh. Run from the repository
# root:
#
#     /work/venv-ref/bin/python tests/ref/prefix_train_golden.py
#
# Committed output made with torch 2.15.0, transformers 5.25.0, peft 0.21.2. Uses the blocks of
# tests/data/lora_train/train.pack (tests/ref/lora_train_golden.py: 8 blocks of 32 tokens, two
# segments each, prompts masked) and the tiny Llama of tests/data/llama/tiny. Writes
# tests/data/prefix/:
#   train-init/        a PEFT prefix adapter (num_virtual_tokens 4, N(0, 1) table)
#   train-curve.txt    one line per optimizer step, "step loss grad_norm lr", of a 30-step run
#                      from train-init: AdamW (torch, weight decay 0.01 on the table as the
#                      Trainer decays every non-bias, non-norm parameter), linear schedule with 3
#                      warmup steps from lr 1e-2, clipping 1.0, gradient accumulation 2 normalised
#                      by the trained tokens of the whole step; blocks taken in order
# Each segment runs alone without position_ids, as PEFT + transformers do for one sequence:
# the real tokens take positions P.. after the prefix; a segment never sees another.
import os
import shutil
import struct

import numpy as np
import torch
from peft import PrefixTuningConfig, get_peft_model
from transformers import LlamaForCausalLM, get_linear_schedule_with_warmup

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PACK = os.path.join(ROOT, "data", "lora_train", "train.pack")
MODEL = os.path.join(ROOT, "data", "llama", "tiny")
OUT = os.path.join(ROOT, "data", "prefix")
P, STEPS, ACCUM, LR, WARMUP, WD, CLIP = 4, 30, 2, 1e-2, 3, 0.01, 1.0


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
    torch.manual_seed(3)
    blocks = read_pack(PACK)
    base = LlamaForCausalLM.from_pretrained(MODEL, dtype=torch.float32,
                                            attn_implementation="eager")
    pm = get_peft_model(base, PrefixTuningConfig(num_virtual_tokens=P, task_type="CAUSAL_LM"))
    emb = pm.prompt_encoder["default"].embedding.weight
    with torch.no_grad():
        emb.copy_(torch.randn(emb.shape))
    # the config names the base as the repository sees it, not this checkout's absolute path
    pm.peft_config["default"].base_model_name_or_path = "tests/data/llama/tiny"
    d = os.path.join(OUT, "train-init")
    shutil.rmtree(d, ignore_errors=True)
    pm.save_pretrained(d)
    for f in os.listdir(d):
        if f not in ("adapter_config.json", "adapter_model.safetensors"):
            os.remove(os.path.join(d, f))
    pm.train()
    opt = torch.optim.AdamW([emb], lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD,
                            foreach=False)
    sched = get_linear_schedule_with_warmup(opt, WARMUP, STEPS)
    lines, nb = [], 0
    for step in range(1, STEPS + 1):
        group = [blocks[(nb + i) % len(blocks)] for i in range(ACCUM)]
        nb = (nb + ACCUM) % len(blocks)
        n_step = sum(int(m[1:].sum()) for _, _, m in group)
        opt.zero_grad()
        tot = 0.0
        for b in group:
            s, _ = block_loss_sum(pm, *b)
            (s / n_step).backward()
            tot += float(s)
        gn = float(torch.nn.utils.clip_grad_norm_([emb], CLIP))
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        lines.append("%d %.9e %.9e %.9e" % (step, tot / n_step, gn, lr))
    with open(os.path.join(OUT, "train-curve.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[:3] + lines[-2:]))


if __name__ == "__main__":
    main()
