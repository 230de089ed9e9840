#!/usr/bin/env python3
# The 30-step prefix-tuning curve of tests/ref/prefix_train_golden.py, this time by
# transformers.Trainer itself (PEFT 0.21.2 PREFIX_TUNING + Trainer), for
# tests/cli/lora-train/prefix-curve.sh. Run from the repository root:
#
#     /work/venv-ref/bin/python tests/ref/prefix_trainer_golden.py
#
# Committed output made with torch 2.15.0, transformers 5.25.0, peft 0.21.2, accelerate 1.16.0.
# From tests/data/prefix/train-init (num_virtual_tokens 4) on tests/data/llama/tiny with the
# blocks of tests/data/lora_train/train.pack in order: per_device_train_batch_size 1,
# gradient_accumulation_steps 2, adamw_torch (betas 0.9/0.999, eps 1e-8), learning_rate 1e-2,
# linear schedule with 3 warmup steps, weight_decay 0.01 (the Trainer decays the table: it is no
# bias and no norm), max_grad_norm 1.0, 30 steps. Only the loss is ours: each packed segment runs
# alone (it sees the prefix and itself, positions P.. after the prefix), summed CE divided by the
# Trainer's num_items_in_batch (the label tokens of the whole accumulated step). Writes
# tests/data/prefix/train-curve-trainer.txt: "step loss grad_norm lr" per optimizer step.
import os
import shutil
import struct

import numpy as np
import torch
from peft import PrefixTuningConfig, get_peft_model
from safetensors.torch import load_file
from transformers import LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments

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
        ids = np.frombuffer(raw, "<u4", T, o).astype(np.int64)
        seg = np.frombuffer(raw, "<u2", T, o + 4 * T).astype(np.int64)
        mask = np.frombuffer(raw, "u1", T, o + 6 * T).astype(np.int64)
        blocks.append((ids, seg, mask))
    return blocks


def block_loss_sum(model, ids, seg, mask):
    total, n = torch.zeros((), dtype=torch.float64), 0
    for s in sorted(set(int(x) for x in seg) - {0}):
        idx = np.nonzero(seg == s)[0]
        x = torch.tensor(ids[idx])[None]
        labels = torch.tensor(np.where(mask[idx] == 1, ids[idx], -100))[None]
        logits = model(input_ids=x).logits.float()
        sl = labels[0, 1:]
        ce = torch.nn.functional.cross_entropy(logits[0, :-1], sl, ignore_index=-100,
                                               reduction="sum")
        total = total + ce.double()
        n += int((sl != -100).sum())
    return total, n


class BlockTrainer(Trainer):
    """The Trainer's loop as is; only the loss runs each packed segment separately (summed CE
    / num_items_in_batch, the 4.46+ normalisation)."""
    loss_is_scaled_for_ga = True

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        ids = inputs["input_ids"][0].numpy()
        seg = inputs["seg"][0].numpy()
        mask = inputs["mask"][0].numpy()
        s, n = block_loss_sum(model, ids, seg, mask)
        self.record.append((float(s), n, int(num_items_in_batch)))
        return s / num_items_in_batch


class Rec(TrainerCallback):
    def __init__(self):
        self.lr, self.gn = [], []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kw):
        self.lr.append(optimizer.param_groups[0]["lr"])

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "grad_norm" in logs:
            self.gn.append(float(logs["grad_norm"]))


def main():
    torch.manual_seed(0)
    blocks = read_pack(PACK)
    base = LlamaForCausalLM.from_pretrained(MODEL, dtype=torch.float32,
                                            attn_implementation="eager")
    pm = get_peft_model(base, PrefixTuningConfig(num_virtual_tokens=P, task_type="CAUSAL_LM"))
    emb = pm.prompt_encoder["default"].embedding.weight
    init = load_file(os.path.join(OUT, "train-init", "adapter_model.safetensors"))
    with torch.no_grad():
        emb.copy_(init["prompt_embeddings"])
    trainable = [n for n, p in pm.named_parameters() if p.requires_grad]
    assert trainable == ["prompt_encoder.default.embedding.weight"], trainable
    data = [{"input_ids": torch.tensor(i), "seg": torch.tensor(s), "mask": torch.tensor(m),
             "labels": torch.tensor(np.where(m == 1, i, -100))} for i, s, m in blocks]
    tmp = os.path.join(OUT, "..", "tmp-prefix-trainer")
    args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=1,
                             gradient_accumulation_steps=ACCUM, learning_rate=LR,
                             weight_decay=WD, adam_beta1=0.9, adam_beta2=0.999,
                             adam_epsilon=1e-8, max_grad_norm=CLIP, lr_scheduler_type="linear",
                             warmup_steps=WARMUP, max_steps=STEPS, logging_steps=1,
                             save_strategy="no", report_to="none", use_cpu=True, seed=0,
                             remove_unused_columns=False, optim="adamw_torch",
                             train_sampling_strategy="sequential", dataloader_num_workers=0,
                             disable_tqdm=True)
    rec = Rec()
    tr = BlockTrainer(model=pm, args=args, train_dataset=data, callbacks=[rec],
                      data_collator=lambda b: {k: torch.stack([x[k] for x in b]) for k in b[0]})
    tr.record = []
    tr.train()
    shutil.rmtree(tmp, ignore_errors=True)
    decayed = [n for n in tr.get_decay_parameter_names(pm) if "prompt_encoder" in n]
    print("decayed by the Trainer:", decayed)
    lines = []
    for k in range(STEPS):
        grp = tr.record[ACCUM * k:ACCUM * (k + 1)]
        n = sum(x[1] for x in grp)
        assert all(x[2] == n for x in grp), grp
        lines.append("%d %.9e %.9e %.9e" % (k + 1, sum(x[0] for x in grp) / n, rec.gn[k],
                                            rec.lr[k]))
    with open(os.path.join(OUT, "train-curve-trainer.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[:3] + lines[-2:]))


if __name__ == "__main__":
    main()
