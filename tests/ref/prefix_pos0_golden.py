#!/usr/bin/env python3
# ChatGLM's P-Tuning v2 convention, the real tokens' RoPE positions from 0 after a prefix
# (lora-train --prefix-positions 0, adapter key qlora_tools_prefix_positions 0), against
# transformers given position_ids 0.. with PEFT's prompt as the cache (PEFT itself drops
# position_ids and ignores our key). For tests/cli/lora-train/prefix-pos0.sh and
# tests/cli/gen/prefix-pos0.sh. Run from the repository root:
#
#     /work/venv-ref/bin/python tests/ref/prefix_pos0_golden.py
#
# Committed output made with torch 2.15.0, transformers 5.25.0, peft 0.21.2. Writes
# tests/data/prefix/:
#   gen-tiny-prefix-pos0/     tests/ref/prefix_golden.py's gen-tiny-prefix with the key added
#                             (PEFT 0.21.2 loads it, warning that the key is unknown)
#   gen-tiny-pos0-greedy.ids  the greedy continuations (8 new tokens, stopping at eos 2) of the
#                             prompts of tests/cli/gen/prefix.sh by full forwards with
#                             positions from 0
#   train-curve-pos0.txt      "step loss grad_norm lr" of 8 optimizer steps from train-init
#                             (tests/ref/prefix_train_golden.py) with positions from 0, the
#                             other settings those of train-curve.txt
import json
import os
import shutil
import sys
import warnings

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prefix_train_golden import ACCUM, CLIP, LR, MODEL, OUT, PACK, WARMUP, WD, read_pack  # noqa

import numpy as np  # noqa: E402

KEY = "qlora_tools_prefix_positions"
STEPS = 8


def forward0(pm, base, ids):
    """Logits of ids (1, T) after PEFT's prefix, positions 0..T-1."""
    P = pm.peft_config["default"].num_virtual_tokens
    T = ids.shape[1]
    return base(input_ids=ids, past_key_values=pm.get_prompt(1),
                position_ids=torch.arange(T)[None],
                attention_mask=torch.ones(1, P + T, dtype=torch.long)).logits


def build_gen():
    d = os.path.join(os.path.dirname(MODEL), "..", "gen", "tiny")
    src, dst = os.path.join(OUT, "gen-tiny-prefix"), os.path.join(OUT, "gen-tiny-prefix-pos0")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    cp = os.path.join(dst, "adapter_config.json")
    cfg = json.load(open(cp))
    cfg[KEY] = 0
    with open(cp, "w") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True))
    tok = AutoTokenizer.from_pretrained(d)
    base = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32,
                                                attn_implementation="eager")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        pm = PeftModel.from_pretrained(base, dst)
    print("PEFT loads gen-tiny-prefix-pos0:", [str(x.message)[:60] for x in w
                                              if KEY in str(x.message)])
    pm.eval()
    same = 0
    old = open(os.path.join(OUT, "gen-tiny-greedy.ids")).read().split("\n")
    with open(os.path.join(OUT, "gen-tiny-pos0-greedy.ids"), "w") as f:
        for i, p in enumerate(["类型#上衣*颜色#白色", "hello", "What is the capital of France?"]):
            seq = tok.apply_chat_template([{"role": "user", "content": p}],
                                          add_generation_prompt=True, tokenize=True,
                                          return_dict=True, return_tensors="pt")["input_ids"][0]
            new = []
            with torch.no_grad():
                for _ in range(8):
                    nxt = int(forward0(pm, base, seq[None])[0, -1].argmax())
                    if nxt == 2:
                        break
                    new.append(nxt)
                    seq = torch.cat([seq, torch.tensor([nxt])])
            line = ",".join(str(i) for i in new)
            same += line == old[i]
            f.write(line + "\n")
    print("greedy ids equal to those with positions after the prefix: %d of 3" % same)


def block_loss_sum0(pm, base, ids, seg, mask):
    total, n = torch.zeros((), dtype=torch.float64), 0
    for s in sorted(set(int(x) for x in seg) - {0}):
        idx = np.nonzero(seg == s)[0]
        x = torch.tensor(ids[idx].astype(np.int64))[None]
        labels = torch.tensor(np.where(mask[idx] == 1, ids[idx].astype(np.int64), -100))[None]
        logits = forward0(pm, base, x).float()
        sl = labels[0, 1:]
        ce = torch.nn.functional.cross_entropy(logits[0, :-1], sl, ignore_index=-100,
                                               reduction="sum")
        total = total + ce.double()
        n += int((sl != -100).sum())
    return total, n


def build_curve():
    blocks = read_pack(PACK)
    base = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32,
                                                attn_implementation="eager")
    pm = PeftModel.from_pretrained(base, os.path.join(OUT, "train-init"))
    emb = pm.prompt_encoder["default"].embedding.weight
    emb.requires_grad_(True)
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
            s, _ = block_loss_sum0(pm, base, *b)
            (s / n_step).backward()
            tot += float(s)
        gn = float(torch.nn.utils.clip_grad_norm_([emb], CLIP))
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        lines.append("%d %.9e %.9e %.9e" % (step, tot / n_step, gn, lr))
    with open(os.path.join(OUT, "train-curve-pos0.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    ref = open(os.path.join(OUT, "train-curve.txt")).read().split("\n")[0]
    print("after the prefix, step 1:", ref)


build_gen()
build_curve()
print("ok")
