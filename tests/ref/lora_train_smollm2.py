#!/usr/bin/env python3
# Golden data for lora-train on the DEFAULT model (SmolLM2-135M-Instruct, `make model`) against
# PEFT and the HuggingFace Trainer. Run from the repository root after `make` and `make model`:
#
#     /work/venv-ref/bin/python tests/ref/lora_train_smollm2.py
#
# Committed output produced with torch 2.15.0, peft 0.21.2, transformers 5.23.0, xxhash 4.1.0
# (CPU, 2 threads; about 3 minutes). Writes tests/data/lora_train_smollm2/:
#   grad.pack, curve.pack  made by our tools from the project's demo data:
#       adgen-data 7 400 | tok-chatml -t MODEL/tokenizer.json --prompt-key content
#           --response-key summary --system 你是一个广告文案助手。
#       pack --mode pack --long split --seq-len 128 --max-blocks 2 --seed 3   -> grad.pack
#       pack --mode pad --long truncate --seq-len 128 --max-blocks 100 --seed 1 -> curve.pack
#   init/      a PEFT adapter (r 2, alpha 4, all seven Llama linears) with random NON-zero A and
#              B, stored as BF16 (both sides train from exactly these values)
#   grad/      the gradients of ONE optimizer step's loss over the two blocks of grad.pack
#              (summed CE / trained targets of both blocks, reference.md 7.6) w.r.t. every
#              lora_A / lora_B, as an F32 PEFT adapter directory (same keys and shapes)
#   grad.txt   "summed_CE N" of that step
#   curve.txt  "step loss grad_norm lr" for 50 optimizer steps of transformers.Trainer on
#              curve.pack (sequential order, batch 1, grad accumulation 2, adamw_torch, lr 1e-3,
#              cosine with 5 warmup steps, weight decay 0.01, max_grad_norm 1.0) from lora-train's
#              own seeded init (r 8, alpha 16, all-linear, --seed 42: A from xoshiro256** as
#              common/rng.c, B = 0), which this script reproduces bit for bit.
# Packed blocks: positions restart per segment and attention never crosses segments (each
# segment runs through the model separately); the loss is HF's shifted causal-LM CE.
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "data", "lora_train_smollm2")
MODEL = os.environ.get("QT_MODEL_DIR", os.path.join(ROOT, "models", "SmolLM2-135M-Instruct"))
BIN = os.path.join(ROOT, "bin")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
STEPS, ACCUM, LR, WARMUP, WD, CLIP, SEED = 50, 2, 1e-3, 5, 0.01, 1.0, 42
M64 = (1 << 64) - 1


def make_packs():
    data = subprocess.run([os.path.join(BIN, "adgen-data"), "7", "400"], check=True,
                          capture_output=True).stdout
    tok = subprocess.run([os.path.join(BIN, "tok-chatml"), "-q", "-t",
                          os.path.join(MODEL, "tokenizer.json"), "--prompt-key", "content",
                          "--response-key", "summary", "--system", "你是一个广告文案助手。"],
                         input=data, check=True, capture_output=True).stdout
    for name, args in (("grad.pack", ["--mode", "pack", "--long", "split", "--max-blocks", "2",
                                      "--seed", "3"]),
                       ("curve.pack", ["--mode", "pad", "--long", "truncate", "--max-blocks",
                                       "100", "--seed", "1"])):
        subprocess.run([os.path.join(BIN, "pack"), "-q", "--seq-len", "128", *args, "-o",
                        os.path.join(OUT, name), "-"], input=tok, check=True)


def read_pack(path):
    with open(path, "rb") as f:
        raw = f.read()
    hsize, = struct.unpack_from("<I", raw, 12)
    T, bs = struct.unpack_from("<II", raw, 44)
    n, = struct.unpack_from("<Q", raw, 56)
    blocks = []
    for i in range(n):
        o = hsize + i * bs
        ids = np.frombuffer(raw, "<u4", T, o).astype(np.int64)
        seg = np.frombuffer(raw, "<u2", T, o + 4 * T).astype(np.int64)
        mask = np.frombuffer(raw, "u1", T, o + 6 * T).astype(np.int64)
        blocks.append((ids, seg, mask))
    return blocks


def block_loss_sum(model, ids, seg, mask):
    """Summed CE over the block's targets and their count (HF shift, one segment at a time)."""
    total, n = 0, 0
    for s in sorted(set(seg.tolist()) - {0}):
        idx = np.nonzero(seg == s)[0]
        x = torch.tensor(ids[idx])[None]
        labels = torch.tensor(np.where(mask[idx] == 1, ids[idx], -100))[None]
        pos = torch.arange(len(idx))[None]
        logits = model(input_ids=x, position_ids=pos).logits.float()
        sl = labels[0, 1:]
        total = total + torch.nn.functional.cross_entropy(logits[0, :-1], sl, ignore_index=-100,
                                                          reduction="sum")
        n += int((sl != -100).sum())
    return total, n


def lora_params(model):
    return [(k, p) for k, p in model.named_parameters() if "lora_" in k]


def flatten_dir(d):
    for f in os.listdir(d):
        if f not in ("adapter_config.json", "adapter_model.safetensors"):
            p = os.path.join(d, f)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)


def save_tensors(model, dst, tensors, dtype):
    saved = {k: p.detach().clone() for k, p in lora_params(model)}
    with torch.no_grad():
        for k, p in lora_params(model):
            p.copy_(tensors[k])
    shutil.rmtree(dst, ignore_errors=True)
    model.save_pretrained(dst, save_embedding_layers=False)
    flatten_dir(dst)
    if dtype is not None:
        from safetensors.torch import load_file, save_file
        f = os.path.join(dst, "adapter_model.safetensors")
        save_file({k: v.to(dtype) for k, v in load_file(f).items()}, f, metadata={"format": "pt"})
    with torch.no_grad():
        for k, p in lora_params(model):
            p.copy_(saved[k])


class Xoshiro:
    """common/rng.c: xoshiro256** seeded through splitmix64."""

    def __init__(self, seed):
        self.s = []
        x = seed
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def u64(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        out = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return out

    def double(self):
        return (self.u64() >> 11) * 2.0 ** -53


def seeded_init(model, seed):
    """lora-train's init (jobs/lora_train_init.c init_lora): layer-major, modules in TARGETS order,
    A[k] = float((2u - 1) / sqrt(in)), B = 0."""
    r = Xoshiro(seed)
    params = dict(lora_params(model))
    n_layers = model.base_model.model.config.num_hidden_layers
    with torch.no_grad():
        for l in range(n_layers):
            for m in TARGETS:
                blk = "self_attn" if m in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
                pre = "base_model.model.model.layers.%d.%s.%s" % (l, blk, m)
                A = params[pre + ".lora_A.default.weight"]
                bound = 1.0 / np.sqrt(float(A.shape[1]))
                vals = np.array([(2.0 * r.double() - 1.0) * bound for _ in range(A.numel())],
                                dtype=np.float64).astype(np.float32)
                A.copy_(torch.from_numpy(vals.reshape(A.shape)))
                params[pre + ".lora_B.default.weight"].zero_()


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
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    os.makedirs(OUT, exist_ok=True)
    make_packs()
    grad_blocks = read_pack(os.path.join(OUT, "grad.pack"))
    curve_blocks = read_pack(os.path.join(OUT, "curve.pack"))

    # 1. One optimizer step's loss and gradients from a non-zero BF16 init (r 2).
    torch.manual_seed(0)
    base = LlamaForCausalLM.from_pretrained(MODEL, dtype=torch.float32,
                                            attn_implementation="eager")
    cfg = LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0, target_modules=TARGETS,
                     task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    model.train()
    with torch.no_grad():
        for k, p in lora_params(model):
            p.copy_((torch.randn(p.shape) * (0.05 if "lora_A" in k else 0.02))
                    .to(torch.bfloat16).float())
    init = {k: p.detach().clone() for k, p in lora_params(model)}
    save_tensors(model, os.path.join(OUT, "init"), init, torch.bfloat16)
    model.zero_grad()
    n_step = sum(int(m[1:].sum()) for _, _, m in grad_blocks)
    tot = 0.0
    for b in grad_blocks:
        s, _ = block_loss_sum(model, *b)
        (s / n_step).backward()
        tot += float(s)
    grads = {k: p.grad.detach().clone() for k, p in lora_params(model)}
    save_tensors(model, os.path.join(OUT, "grad"), grads, None)
    with open(os.path.join(OUT, "grad.txt"), "w") as f:
        f.write("%.9e %d\n" % (tot, n_step))
    print("grad step: loss %.6f over %d targets" % (tot / n_step, n_step))
    del model, base

    # 2. 50 steps of transformers.Trainer from lora-train's seeded init.
    base = LlamaForCausalLM.from_pretrained(MODEL, dtype=torch.float32,
                                            attn_implementation="eager")
    cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS,
                     task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    seeded_init(model, SEED)
    data = [{"input_ids": torch.tensor(i), "seg": torch.tensor(s), "mask": torch.tensor(m),
             "labels": torch.tensor(np.where(m == 1, i, -100))} for i, s, m in curve_blocks]
    args = TrainingArguments(output_dir=os.path.join(OUT, "..", "tmp-trainer"),
                             per_device_train_batch_size=1, gradient_accumulation_steps=ACCUM,
                             learning_rate=LR, weight_decay=WD, adam_beta1=0.9,
                             adam_beta2=0.999, adam_epsilon=1e-8, max_grad_norm=CLIP,
                             lr_scheduler_type="cosine", warmup_steps=WARMUP, max_steps=STEPS,
                             logging_steps=1, save_strategy="no", report_to="none",
                             use_cpu=True, seed=SEED, remove_unused_columns=False,
                             optim="adamw_torch", train_sampling_strategy="sequential",
                             dataloader_num_workers=0, disable_tqdm=True)
    rec = Rec()
    tr = BlockTrainer(model=model, args=args, train_dataset=data, callbacks=[rec],
                      data_collator=lambda b: {k: torch.stack([x[k] for x in b]) for k in b[0]})
    tr.record = []
    tr.train()
    shutil.rmtree(os.path.join(OUT, "..", "tmp-trainer"), ignore_errors=True)
    lines = []
    for k in range(STEPS):
        grp = tr.record[ACCUM * k:ACCUM * (k + 1)]
        n = sum(x[1] for x in grp)
        assert all(x[2] == n for x in grp), grp
        lines.append("%d %.9e %.9e %.9e" % (k + 1, sum(x[0] for x in grp) / n, rec.gn[k],
                                            rec.lr[k]))
    with open(os.path.join(OUT, "curve.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
