#!/usr/bin/env python3
# PEFT's prefix tuning (PREFIX_TUNING, P-Tuning v2's deep prompts) on tiny models of
# tests/data/family, the numbers our engine must reproduce (tests/kernels/model/test_prefix.c).
# Run from the repository root:
#
#     /work/venv-ref/bin/python tests/ref/prefix_golden.py [NAME ...]
#
# (NAMEs: only those families, and not gen-tiny.) Committed output made with torch 2.15.0,
# transformers 5.25.0, peft 0.21.2. For each base NAME of tests/ref/family_golden.py (llama-bias:
# GQA 4/2; mistral-window: a window of 8 that hides the 5 prefix slots from later tokens; qwen3:
# head_dim 32 with hidden / heads 16, q/k norms; qwen2, qwen2-window, gemma, gemma2, phi3, glm,
# glm4: every other family LoRA trains) writes tests/data/prefix/:
#   NAME-prefix/          the adapter as PEFT saves it (num_virtual_tokens 5, prompt_embeddings
#                         [5, 2 * layers * kv_heads * head_dim], random N(0, 1) values)
#   NAME.logits.bin       QTLOGIT1 logits of PeftModel(ids) for the prompts of
#                         tests/ref/family_golden.py (lengths 1, 5, 17, 40)
#   NAME.greedy.txt       prompt ids, then the 24 ids PeftModel.generate(do_sample=False) adds
#   NAME-grad/            adapter_model.safetensors: the gradient of the token-mean CE of the
#                         last prompt (positions 0..9 not trained) w.r.t. prompt_embeddings
#   NAME.loss.txt         "summed_ce n_targets" of that sequence
# and, for gen(1) on tests/data/gen/tiny (SmolLM2's tokenizer and ChatML template):
#   gen-tiny-prefix/      a prefix adapter (16 slots, N(0, 64) values) of that model
#   gen-tiny-greedy.ids   the greedy continuations (8 new tokens, stopping at eos 2) of the
#                         prompts of tests/cli/gen/prefix.sh by full PeftModel forwards
import os
import shutil
import struct
import sys
import torch
from peft import PrefixTuningConfig, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FAM = os.path.join(ROOT, "data", "family")
OUT = os.path.join(ROOT, "data", "prefix")
V, P = 512, 5


def build(name):
    torch.manual_seed(sum(map(ord, name)) + 1)
    base = AutoModelForCausalLM.from_pretrained(os.path.join(FAM, name), dtype=torch.float32,
                                                attn_implementation="eager")
    pm = get_peft_model(base, PrefixTuningConfig(num_virtual_tokens=P, task_type="CAUSAL_LM"))
    emb = pm.prompt_encoder["default"].embedding.weight
    with torch.no_grad():
        emb.copy_(torch.randn(emb.shape))
    # the base as the repository sees it, not this checkout's absolute path
    pm.peft_config["default"].base_model_name_or_path = "tests/data/family/" + name
    d = os.path.join(OUT, name + "-prefix")
    shutil.rmtree(d, ignore_errors=True)
    pm.save_pretrained(d)
    os.remove(os.path.join(d, "README.md"))
    pm.eval()
    g = torch.Generator().manual_seed(7)
    prompts = [torch.randint(3, V, (T,), generator=g) for T in (1, 5, 17, 40)]
    with open(os.path.join(OUT, name + ".logits.bin"), "wb") as f:
        f.write(b"QTLOGIT1" + struct.pack("<II", len(prompts), V))
        for ids in prompts:
            with torch.no_grad():
                logits = pm(input_ids=ids[None]).logits[0].float()
            f.write(struct.pack("<I", len(ids)))
            f.write(ids.to(torch.int32).numpy().astype("<u4").tobytes())
            f.write(logits.numpy().astype("<f4").tobytes())
    prompt = prompts[2]
    # Greedy by full forwards of the PeftModel: PEFT 0.21.2's generate() under transformers
    # 5.25 passes the prefix as past_key_values beside the cache generate() makes, and
    # transformers then ignores the prefix (its FutureWarning "Both `past_key_values` and
    # `cache` are set"), so generate() continues without it. The forward keeps it.
    seq = prompt.clone()
    with torch.no_grad():
        for _ in range(24):
            nxt = pm(input_ids=seq[None]).logits[0, -1].argmax()
            seq = torch.cat([seq, nxt[None]])
        gen = pm.generate(input_ids=prompt[None],
                          attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                          do_sample=False, max_new_tokens=24, min_new_tokens=24,
                          eos_token_id=None, pad_token_id=2)[0]
        nopre = base.generate(input_ids=prompt[None],
                              attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                              do_sample=False, max_new_tokens=24, min_new_tokens=24,
                              eos_token_id=None, pad_token_id=2)[0]
    print(name, "generate() == forwards:", bool((gen == seq).all()),
          "generate() == the base without prefix:", bool((gen == nopre).all()))
    with open(os.path.join(OUT, name + ".greedy.txt"), "w") as f:
        f.write(" ".join(str(int(i)) for i in prompt) + "\n")
        f.write(" ".join(str(int(i)) for i in seq[len(prompt):]) + "\n")
    pm.train()
    ids = prompts[-1][None].long()
    labels = ids.clone()
    labels[0, :10] = -100
    logits = pm(input_ids=ids).logits.float()
    ce = torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:], ignore_index=-100,
                                           reduction="sum")
    n = int((labels[0, 1:] != -100).sum())
    (ce / n).backward()
    gd = os.path.join(OUT, name + "-grad")
    shutil.rmtree(gd, ignore_errors=True)
    os.makedirs(gd)
    save_file({"prompt_embeddings": emb.grad.detach().contiguous()},
              os.path.join(gd, "adapter_model.safetensors"))
    with open(os.path.join(OUT, name + ".loss.txt"), "w") as f:
        f.write("%.9e %d\n" % (float(ce.detach()), n))


def build_gen():
    from transformers import AutoTokenizer
    d = os.path.join(ROOT, "data", "gen", "tiny")
    torch.manual_seed(3)
    tok = AutoTokenizer.from_pretrained(d)
    base = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32,
                                                attn_implementation="eager")
    pm = get_peft_model(base, PrefixTuningConfig(num_virtual_tokens=16, task_type="CAUSAL_LM"))
    emb = pm.prompt_encoder["default"].embedding.weight
    with torch.no_grad():  # large enough to change this tiny model's greedy choices
        emb.copy_(8 * torch.randn(emb.shape))
    pm.peft_config["default"].base_model_name_or_path = "tests/data/gen/tiny"
    out = os.path.join(OUT, "gen-tiny-prefix")
    shutil.rmtree(out, ignore_errors=True)
    pm.save_pretrained(out)
    os.remove(os.path.join(out, "README.md"))
    pm.eval()
    with open(os.path.join(OUT, "gen-tiny-greedy.ids"), "w") as f:
        for p in ["类型#上衣*颜色#白色", "hello", "What is the capital of France?"]:
            seq = tok.apply_chat_template([{"role": "user", "content": p}],
                                          add_generation_prompt=True, tokenize=True,
                                          return_dict=True, return_tensors="pt")["input_ids"][0]
            new = []
            with torch.no_grad():
                for _ in range(8):
                    nxt = int(pm(input_ids=seq[None]).logits[0, -1].argmax())
                    if nxt == 2:
                        break
                    new.append(nxt)
                    seq = torch.cat([seq, torch.tensor([nxt])])
            f.write(",".join(str(i) for i in new) + "\n")


ALL = ("llama-bias", "mistral-window", "qwen3", "qwen2", "qwen2-window", "gemma", "gemma2",
       "phi3", "glm", "glm4")
os.makedirs(OUT, exist_ok=True)
for name in sys.argv[1:] or ALL:
    build(name)
if not sys.argv[1:]:
    build_gen()
print("ok")
