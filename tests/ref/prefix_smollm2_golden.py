#!/usr/bin/env python3
# Prefix tuning on the default model (SmolLM2-135M-Instruct, GQA 9/3, 30 layers): the greedy
# continuations of PEFT 0.21.2's PeftModel (PREFIX_TUNING) by full forwards, for
# tests/cli/gen/prefix-smollm2.sh (gen --adapter). PEFT's own generate() under transformers
# 5.25 drops the prefix (tests/ref/prefix_golden.py), so each new token is the argmax of a
# forward over the whole sequence. Run from the repository root:
#
#     /work/venv-ref/bin/python tests/ref/prefix_smollm2_golden.py
#
# Committed output made with torch 2.15.0, transformers 5.25.0, peft 0.21.2 (CPU, fp32).
# Writes tests/data/prefix/:
#   smollm2-prefix/                 a prefix adapter of 8 slots, N(0, 1) values
#   smollm2-prefix-greedy.ids       for the first 8 prompts of tests/data/gen/greedy-prompts.jsonl
#                                   (the model's chat template, its default system prompt):
#                                   the 16 new ids (fewer at eos 2), comma-separated
#   smollm2-prefix-pos0-greedy.ids  the same with the prompt's positions from 0 after the prefix
#                                   (qlora_tools_prefix_positions 0: transformers given
#                                   position_ids 0.. with PEFT's prompt as the cache)
# and prints the smallest top-2 logit gap of each run (a near-tie would make the test fragile).
import json
import os
import shutil

import torch
from peft import PrefixTuningConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "..")
OUT = os.path.join(here, "..", "data", "prefix")
MODEL = os.environ.get("QT_MODEL_DIR", os.path.join(root, "models", "SmolLM2-135M-Instruct"))
P, N_PROMPTS, MAX_NEW, EOS = 8, 8, 16, 2


def main():
    torch.set_num_threads(2)
    torch.manual_seed(5)
    tok = AutoTokenizer.from_pretrained(MODEL)
    base = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32,
                                                attn_implementation="eager").eval()
    pm = get_peft_model(base, PrefixTuningConfig(num_virtual_tokens=P, task_type="CAUSAL_LM"))
    emb = pm.prompt_encoder["default"].embedding.weight
    with torch.no_grad():
        emb.copy_(torch.randn(emb.shape))
    pm.peft_config["default"].base_model_name_or_path = "models/SmolLM2-135M-Instruct"
    d = os.path.join(OUT, "smollm2-prefix")
    shutil.rmtree(d, ignore_errors=True)
    pm.save_pretrained(d)
    for f in os.listdir(d):
        if f not in ("adapter_config.json", "adapter_model.safetensors"):
            os.remove(os.path.join(d, f))
    pm.eval()
    prompts = [json.loads(x)["messages"] for x in
               open(os.path.join(here, "..", "data", "gen", "greedy-prompts.jsonl"),
                    encoding="utf-8")][:N_PROMPTS]
    base_ids = []

    def logits_after(seq):
        return pm(input_ids=seq[None]).logits[0, -1]

    def logits_pos0(seq):
        T = len(seq)
        return base(input_ids=seq[None], past_key_values=pm.get_prompt(1),
                    position_ids=torch.arange(T)[None],
                    attention_mask=torch.ones(1, P + T, dtype=torch.long)).logits[0, -1]

    for name, step in (("smollm2-prefix-greedy.ids", logits_after),
                       ("smollm2-prefix-pos0-greedy.ids", logits_pos0)):
        gap, lines = float("inf"), []
        for msgs in prompts:
            seq = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                          return_dict=True, return_tensors="pt")["input_ids"][0]
            new = []
            with torch.no_grad():
                for _ in range(MAX_NEW):
                    lg = step(seq).float()
                    top = lg.topk(2).values
                    gap = min(gap, float(top[0] - top[1]))
                    nxt = int(lg.argmax())
                    if nxt == EOS:
                        break
                    new.append(nxt)
                    seq = torch.cat([seq, torch.tensor([nxt])])
            lines.append(",".join(str(i) for i in new))
        with open(os.path.join(OUT, name), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(name, "smallest top-2 gap %.4g" % gap)
        base_ids.append(lines)
    with torch.no_grad():
        plain = []
        for msgs in prompts:
            seq = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                          return_dict=True, return_tensors="pt")["input_ids"]
            g = base.generate(seq, do_sample=False, max_new_tokens=MAX_NEW)[0, seq.shape[1]:]
            plain.append(",".join(str(int(i)) for i in g if int(i) != EOS))
    print("prompts whose ids equal the base model's: after %d, from 0 %d of %d" % (
        sum(a == b for a, b in zip(base_ids[0], plain)),
        sum(a == b for a, b in zip(base_ids[1], plain)), len(plain)))


if __name__ == "__main__":
    main()
