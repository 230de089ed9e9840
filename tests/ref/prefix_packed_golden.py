#!/usr/bin/env python3
# One packed training block under PEFT's prefix tuning, and TRL's token accuracy on it, for
# tests/kernels/model/test_prefix_packed.c. Run from the repository root:
#
#     /work/venv-ref/bin/python tests/ref/prefix_packed_golden.py [NAME ...]
#
# Committed output made with torch 2.15.0, transformers 5.25.0, peft 0.21.2. The adapters are
# the ones tests/ref/prefix_golden.py wrote (tests/data/prefix/NAME-prefix). A block of two
# sequences (11 and 19 tokens) is what a padding-free collator gives transformers: each
# sequence attends to the prefix and to itself only, so PEFT's loss and gradient of the block
# are those of the two sequences run apart, summed (CE summed over the block's label tokens,
# divided by their number N, as HF's ForCausalLMLoss with num_items_in_batch). Some tokens are
# the model's own greedy choice, so that the argmax equals the label there; TRL's
# mean_token_accuracy of the block (one eval batch) is correct / N with
# correct = ((logits[:-1].argmax(-1) == labels[1:]) & (labels[1:] != -100)).sum().
# Writes tests/data/prefix/:
#   NAME.packed.txt       line 1: the block's ids; line 2: the segment lengths; line 3: the
#                         targets of the block's positions (the next token, -1 for the first 2
#                         positions' labels and a segment's last position); line 4:
#                         "summed_ce N correct"; line 5: summed_ce with positions from 0
#   NAME-packed-pos0-grad/  the gradient with positions from 0 (ChatGLM's P-Tuning v2)
#   NAME-packed-grad/     adapter_model.safetensors: d(summed_ce / N) / d prompt_embeddings
import os
import shutil
import sys
import torch
from peft import PeftModel
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FAM = os.path.join(ROOT, "data", "family")
OUT = os.path.join(ROOT, "data", "prefix")
V, P = 512, 5  # P: the adapters' num_virtual_tokens
LENS = (11, 19)
SKIP = 2  # labels of a sequence's first SKIP tokens are -100 (a prompt)


def build(name):
    base = AutoModelForCausalLM.from_pretrained(os.path.join(FAM, name), dtype=torch.float32,
                                                attn_implementation="eager")
    # PEFT refuses is_trainable=True for a saved prompt-learning adapter: load, then ask for
    # the table's gradient
    pm = PeftModel.from_pretrained(base, os.path.join(OUT, name + "-prefix"))
    pm.eval()  # no dropout anywhere (the tiny configs have none; eval() only makes it sure)
    emb = pm.prompt_encoder["default"].embedding.weight
    emb.requires_grad_(True)
    g = torch.Generator().manual_seed(11)
    seqs = []
    with torch.no_grad():
        for T in LENS:
            seq = torch.randint(3, V, (1,), generator=g)
            while len(seq) < T:
                if len(seq) % 3 == 0:  # the model's own choice: a correct prediction
                    nxt = pm(input_ids=seq[None]).logits[0, -1].argmax()[None]
                else:
                    nxt = torch.randint(3, V, (1,), generator=g)
                seq = torch.cat([seq, nxt])
            seqs.append(seq)
    total, n, correct, gap = 0.0, 0, 0, float("inf")
    logits_all = []
    for seq in seqs:
        labels = seq.clone()
        labels[:SKIP] = -100
        logits = pm(input_ids=seq[None]).logits[0].float()
        logits_all.append((logits, labels))
        n += int((labels[1:] != -100).sum())
    for logits, labels in logits_all:
        ce = torch.nn.functional.cross_entropy(logits[:-1], labels[1:], ignore_index=-100,
                                               reduction="sum")
        (ce / n).backward()
        total += float(ce.detach())
        sl, lab = logits[:-1].detach(), labels[1:]
        m = lab != -100
        correct += int(((sl.argmax(-1) == lab) & m).sum())
        top = sl[m].topk(2, dim=-1).values
        gap = min(gap, float((top[:, 0] - top[:, 1]).min()))
    print(name, "N", n, "correct", correct, "accuracy %.4f" % (correct / n),
          "smallest top-2 logit gap %.3g" % gap)
    gd = os.path.join(OUT, name + "-packed-grad")
    shutil.rmtree(gd, ignore_errors=True)
    os.makedirs(gd)
    save_file({"prompt_embeddings": emb.grad.detach().contiguous()},
              os.path.join(gd, "adapter_model.safetensors"))
    # ChatGLM's convention (lora_table.prefix_pos0): the real tokens' positions from 0. PEFT
    # drops position_ids (its warning "Position ids are not supported"), so the base model is
    # called with PEFT's prompt as the cache (pm.get_prompt: equal to pm(...) without
    # position_ids) and explicit positions 0..T-1.
    emb.grad = None
    total0 = 0.0
    for seq in seqs:
        labels = seq.clone()
        labels[:SKIP] = -100
        T = len(seq)
        logits = base(input_ids=seq[None], past_key_values=pm.get_prompt(1),
                      position_ids=torch.arange(T)[None],
                      attention_mask=torch.ones(1, P + T, dtype=torch.long)).logits[0].float()
        ce = torch.nn.functional.cross_entropy(logits[:-1], labels[1:], ignore_index=-100,
                                               reduction="sum")
        (ce / n).backward()
        total0 += float(ce.detach())
    gd = os.path.join(OUT, name + "-packed-pos0-grad")
    shutil.rmtree(gd, ignore_errors=True)
    os.makedirs(gd)
    save_file({"prompt_embeddings": emb.grad.detach().contiguous()},
              os.path.join(gd, "adapter_model.safetensors"))
    print(name, "positions from 0: summed CE %.6f (after the prefix: %.6f)" % (total0, total))
    tg = []
    for seq in seqs:
        tg += [int(seq[t + 1]) if t + 1 < len(seq) and t + 1 >= SKIP else -1
               for t in range(len(seq))]
    with open(os.path.join(OUT, name + ".packed.txt"), "w") as f:
        f.write(" ".join(str(int(i)) for s in seqs for i in s) + "\n")
        f.write(" ".join(str(len(s)) for s in seqs) + "\n")
        f.write(" ".join(str(t) for t in tg) + "\n")
        f.write("%.9e %d %d\n" % (total, n, correct))
        f.write("%.9e\n" % total0)


# NAMEs on the command line: only those (tests/ref/prefix_golden.py's families)
for name in sys.argv[1:] or ("llama-bias", "mistral-window", "qwen3", "qwen2", "qwen2-window",
                             "gemma", "gemma2", "phi3", "glm", "glm4"):
    build(name)
print("ok")
