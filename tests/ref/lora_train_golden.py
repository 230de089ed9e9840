#!/usr/bin/env python3
# Golden data for lora-train against PEFT + a plain torch loop with the HF Trainer's step
# semantics (shared/reference.md 7.2-7.6, 7.10). Run from the repository root:
#
#     /work/venv-ref/bin/python tests/ref/lora_train_golden.py
#
# Committed output produced with torch 2.15.0, peft 0.21.2, transformers 5.23.0, xxhash 4.1.0.
# Writes tests/data/lora_train/:
#   train.pack         8 blocks of T = 32 tokens, two samples (segments) each, some padding,
#                      prompt tokens masked; written with our .pack layout (pack(5))
#   init/              a PEFT adapter (r 4, alpha 8, all seven Llama linears) with random,
#                      NON-zero A and B (save_pretrained)
#   grad0/             the gradients of the block-0 loss (token mean) w.r.t. every lora_A /
#                      lora_B, stored as a PEFT adapter directory (same keys and shapes)
#   curve.txt          "loss_block0_sum N0" then one line per optimizer step:
#                      "step loss grad_norm lr" of a 20-step run (AdamW torch, linear schedule
#                      with 3 warmup steps, clip 1.0, grad accumulation 2 normalised by the
#                      trained tokens of the whole step, weight decay 0.01, lr 2e-3)
# The causal-LM loss is HF's: position t predicts token t+1 when mask[t+1] == 1; positions
# restart per segment and attention never crosses segments (each segment runs separately).
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch
import xxhash
from peft import LoraConfig, get_peft_model
from transformers import LlamaForCausalLM, get_linear_schedule_with_warmup

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "data", "lora_train")
MODEL = os.path.join(ROOT, "data", "llama", "tiny")
T, NBLOCKS, V = 32, 8, 512
STEPS, ACCUM, LR, WARMUP, WD, CLIP = 20, 2, 2e-3, 3, 0.01, 1.0
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_blocks(rng):
    blocks = []
    for b in range(NBLOCKS):
        n1 = int(rng.integers(8, 16))
        n2 = int(rng.integers(8, T - n1 + 1))
        ids = np.full(T, 2, np.uint32)
        seg = np.zeros(T, np.uint16)
        mask = np.zeros(T, np.uint8)
        p = 0
        for s, n in ((1, n1), (2, n2)):
            ids[p:p + n] = rng.integers(3, V, n)
            seg[p:p + n] = s
            prompt = int(rng.integers(1, n // 2 + 1))  # completion-only: prompt not trained
            mask[p + prompt:p + n] = 1
            p += n
        blocks.append((ids, seg, mask))
    return blocks


def block_bytes(ids, seg, mask):
    bs = (7 * T + 8 + 63) // 64 * 64
    body = ids.astype("<u4").tobytes() + seg.astype("<u2").tobytes() + mask.tobytes()
    body += b"\0" * (bs - 8 - len(body))
    h = xxhash.xxh3_64_intdigest(body)
    return body + struct.pack("<Q", h), h


def write_pack(path, blocks):
    data, sums = b"", []
    for ids, seg, mask in blocks:
        raw, h = block_bytes(ids, seg, mask)
        data += raw
        sums.append(h)
    payload = xxhash.xxh3_64_intdigest(b"".join(struct.pack("<Q", s) for s in sums))
    n_tok = sum(int((s != 0).sum()) for _, s, _ in blocks)
    n_tr = sum(int(m.sum()) for _, _, m in blocks)
    hdr = bytearray(128)
    hdr[0:8] = b"QLPACKBL"
    struct.pack_into("<IIQQIIIIII", hdr, 8, 1, 128, 0, 0, V, 2, 2, T,
                     (7 * T + 8 + 63) // 64 * 64, 1)
    struct.pack_into("<QQQQIIQQQQ", hdr, 56, NBLOCKS, 2 * NBLOCKS, n_tok, n_tr, 0, 1, 0, 0,
                     payload, 0)
    struct.pack_into("<Q", hdr, 120, xxhash.xxh3_64_intdigest(bytes(hdr)))
    with open(path, "wb") as f:
        f.write(bytes(hdr) + data)


def block_loss_sum(model, ids, seg, mask):
    """Summed CE over the block's targets and their count (HF shift, one segment at a time)."""
    total, n = torch.zeros((), dtype=torch.float64), 0
    for s in (1, 2):
        idx = np.nonzero(seg == s)[0]
        x = torch.tensor(ids[idx].astype(np.int64))[None]
        labels = torch.tensor(np.where(mask[idx] == 1, ids[idx].astype(np.int64), -100))[None]
        pos = torch.arange(len(idx))[None]
        logits = model(input_ids=x, position_ids=pos).logits.float()
        sl = labels[0, 1:]
        ce = torch.nn.functional.cross_entropy(logits[0, :-1], sl, ignore_index=-100,
                                               reduction="sum")
        total = total + ce.double()
        n += int((sl != -100).sum())
    return total, n


def lora_params(model):
    return [(k, p) for k, p in model.named_parameters() if "lora_" in k]


def save_as_adapter(model, dst, tensors):
    """Writes tensors (name -> tensor, PEFT parameter names) into a copy of model's adapter."""
    saved = {k: p.detach().clone() for k, p in lora_params(model)}
    with torch.no_grad():
        for k, p in lora_params(model):
            p.copy_(tensors[k])
    model.save_pretrained(dst)
    with torch.no_grad():
        for k, p in lora_params(model):
            p.copy_(saved[k])


def flatten_dir(d):
    """save_pretrained writes into d directly for the default adapter; keep only the 2 files."""
    for f in os.listdir(d):
        if f not in ("adapter_config.json", "adapter_model.safetensors"):
            p = os.path.join(d, f)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)


def train_curve(model, blocks, init, loss_sum=block_loss_sum):
    """STEPS optimizer steps from the adapter init (PEFT parameter names -> tensors) with the
    Trainer's step semantics; returns one "step loss grad_norm lr" line per step. loss_sum is
    block_loss_sum or a variant with the same contract (lora_train_bf16_golden.py's autocast)."""
    with torch.no_grad():
        for k, p in lora_params(model):
            p.copy_(init[k])
    params = [p for _, p in lora_params(model)]
    opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD,
                            foreach=False)
    sched = get_linear_schedule_with_warmup(opt, WARMUP, STEPS)
    nb, lines = 0, []
    for step in range(1, STEPS + 1):
        group = [blocks[(nb + i) % NBLOCKS] for i in range(ACCUM)]
        nb = (nb + ACCUM) % NBLOCKS
        n_step = sum(int(m[1:].sum()) for _, _, m in group)  # targets: mask[t+1], t < T-1
        opt.zero_grad()
        tot = 0.0
        for b in group:
            s, _ = loss_sum(model, *b)
            (s / n_step).backward()
            tot += float(s)
        gn = float(torch.nn.utils.clip_grad_norm_(params, CLIP))
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        lines.append("%d %.9e %.9e %.9e" % (step, tot / n_step, gn, lr))
    return lines


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(7)
    os.makedirs(OUT, exist_ok=True)
    blocks = make_blocks(rng)
    write_pack(os.path.join(OUT, "train.pack"), blocks)

    base = LlamaForCausalLM.from_pretrained(MODEL, torch_dtype=torch.float32,
                                            attn_implementation="eager")
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=TARGETS,
                     task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    model.train()
    with torch.no_grad():
        for k, p in lora_params(model):
            p.copy_(torch.randn(p.shape) * (0.2 if "lora_A" in k else 0.05))
    init = {k: p.detach().clone() for k, p in lora_params(model)}
    for d in ("init", "grad0"):
        shutil.rmtree(os.path.join(OUT, d), ignore_errors=True)
    model.save_pretrained(os.path.join(OUT, "init"))
    flatten_dir(os.path.join(OUT, "init"))

    # 1. One block: loss (token mean) and its gradients.
    model.zero_grad()
    s, n = block_loss_sum(model, *blocks[0])
    (s / n).backward()
    grads = {k: p.grad.detach().clone() for k, p in lora_params(model)}
    save_as_adapter(model, os.path.join(OUT, "grad0"), grads)
    flatten_dir(os.path.join(OUT, "grad0"))
    lines = ["%.9e %d" % (float(s), n)]

    # 2. STEPS optimizer steps from the same init, the Trainer's semantics.
    lines += train_curve(model, blocks, init)
    with open(os.path.join(OUT, "curve.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
