#!/usr/bin/env python3
# PEFT's prefix tuning with prefix_projection (its PrefixEncoder: Embedding(P, token_dim) ->
# Linear(token_dim, encoder_hidden_size) -> Tanh -> Linear(encoder_hidden_size,
# num_layers * 2 * token_dim), token_dim the key/value width under GQA) against lora-train
# --prefix-projection, for tests/jobs/test_lora_train_prefix.c and
# tests/cli/lora-train/prefix-projection.sh. Run from the repository root:
#
#     /work/venv-ref/bin/python tests/ref/prefix_proj_golden.py
#
# Committed output made with torch 2.15.0, transformers 5.25.0, peft 0.21.2. Writes
# tests/data/prefix/:
#   llama-bias-proj/           the adapter of a projected prefix on tests/data/family/llama-bias
#                              (5 slots, encoder_hidden_size 24, PEFT's random init) as PEFT's
#                              save_pretrained writes it (prompt_embeddings: the MLP's output),
#                              plus prefix_encoder.safetensors, the MLP's state_dict
#   llama-bias-proj-grad.safetensors  the gradients of the five MLP tensors of the summed CE /
#                              N of the packed block of tests/ref/prefix_packed_golden.py
#                              (llama-bias.packed.txt: two segments, each alone after the prefix)
#   llama-bias-proj.loss.txt   "summed_ce N"
#   train-init-proj/           the same kind of adapter on tests/data/llama/tiny (4 slots,
#                              encoder_hidden_size 16)
#   train-curve-proj.txt       "step loss grad_norm lr" of 8 optimizer steps from it on the
#                              blocks of tests/data/lora_train/train.pack with the settings of
#                              train-curve.txt (tests/ref/prefix_train_golden.py): AdamW with
#                              weight decay 0.01 on every tensor but the two biases (the HF
#                              Trainer's get_decay_parameter_names), linear schedule, 3 warmup
#                              steps, lr 1e-2, clipping 1.0, accumulation 2
import os
import shutil
import sys

import torch
from peft import PrefixTuningConfig, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, get_linear_schedule_with_warmup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prefix_train_golden import (ACCUM, CLIP, LR, MODEL, OUT, PACK, WARMUP, WD,  # noqa: E402
                                 block_loss_sum, read_pack)

FAM = os.path.join(os.path.dirname(MODEL), "..", "family")
STEPS = 8


def projected(base_dir, P, H, seed, rel):
    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32,
                                                attn_implementation="eager")
    pm = get_peft_model(base, PrefixTuningConfig(num_virtual_tokens=P, task_type="CAUSAL_LM",
                                                 prefix_projection=True,
                                                 encoder_hidden_size=H))
    pm.peft_config["default"].base_model_name_or_path = rel
    return base, pm


def save(pm, d):
    shutil.rmtree(d, ignore_errors=True)
    pm.save_pretrained(d)
    for f in os.listdir(d):
        if f not in ("adapter_config.json", "adapter_model.safetensors"):
            os.remove(os.path.join(d, f))
    enc = pm.prompt_encoder["default"]
    save_file({k: v.detach().contiguous() for k, v in enc.state_dict().items()},
              os.path.join(d, "prefix_encoder.safetensors"))
    table = load_file(os.path.join(d, "adapter_model.safetensors"))["prompt_embeddings"]
    with torch.no_grad():
        made = enc(torch.arange(table.shape[0])[None])[0]
    assert torch.equal(table, made), "save_pretrained did not write the MLP's output"
    print(d, "prompt_embeddings", tuple(table.shape), "MLP",
          {k: tuple(v.shape) for k, v in enc.state_dict().items()})


def build_grad():
    name = "llama-bias"
    base, pm = projected(os.path.join(FAM, name), 5, 24, 19, "tests/data/family/" + name)
    save(pm, os.path.join(OUT, name + "-proj"))
    lines = open(os.path.join(OUT, name + ".packed.txt")).read().split("\n")
    ids = [int(x) for x in lines[0].split()]
    lens = [int(x) for x in lines[1].split()]
    pm.train()  # the tiny configs have no dropout
    seqs, at = [], 0
    for n in lens:
        seqs.append(torch.tensor(ids[at:at + n]))
        at += n
    N = sum(len(s) - 1 - 1 for s in seqs)  # labels of each sequence's first 2 tokens are -100
    total = 0.0
    for seq in seqs:
        labels = seq.clone()
        labels[:2] = -100
        logits = pm(input_ids=seq[None]).logits[0].float()
        ce = torch.nn.functional.cross_entropy(logits[:-1], labels[1:], ignore_index=-100,
                                               reduction="sum")
        (ce / N).backward()
        total += float(ce.detach())
    enc = pm.prompt_encoder["default"]
    save_file({k: p.grad.detach().contiguous() for k, p in enc.named_parameters()},
              os.path.join(OUT, name + "-proj-grad.safetensors"))
    with open(os.path.join(OUT, name + "-proj.loss.txt"), "w") as f:
        f.write("%.9e %d\n" % (total, N))
    print(name, "summed CE %.6f over %d labels" % (total, N))


def build_curve():
    blocks = read_pack(PACK)
    base, pm = projected(MODEL, 4, 16, 23, "tests/data/llama/tiny")
    save(pm, os.path.join(OUT, "train-init-proj"))
    pm.train()
    enc = pm.prompt_encoder["default"]
    named = list(enc.named_parameters())
    groups = [{"params": [p for n, p in named if "bias" not in n], "weight_decay": WD},
              {"params": [p for n, p in named if "bias" in n], "weight_decay": 0.0}]
    params = [p for _, p in named]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8, foreach=False)
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
            tot += float(s.detach())
        gn = float(torch.nn.utils.clip_grad_norm_(params, CLIP))
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        lines.append("%d %.9e %.9e %.9e" % (step, tot / n_step, gn, lr))
    with open(os.path.join(OUT, "train-curve-proj.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


build_grad()
build_curve()
print("ok")
