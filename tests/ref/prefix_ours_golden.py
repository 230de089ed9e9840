#!/usr/bin/env python3
# PEFT 0.21.2 on the prefix adapters OUR lora-train wrote (tests/data/prefix/ours-sft-tiny*, made
# by tests/ref/prefix_ours.sh, which runs this script):
#
#     /work/venv-ref/bin/python tests/ref/prefix_ours_golden.py MODEL_DIR PROMPTS.jsonl
#
# Committed output made with torch 2.15.0, transformers 5.25.0, peft 0.21.2. For each adapter:
#  - PeftModel.from_pretrained loads it (PREFIX_TUNING; with prefix_projection true PEFT's
#    inference mode reads the saved table and ignores our prefix_encoder.safetensors; PEFT drops
#    our qlora_tools_prefix_positions key with a warning) and its table is our
#    prompt_embeddings bit for bit;
#  - the greedy continuation (8 new ids, stopping at eos 2) of each prompt's "content" as the
#    user turn of the model's chat template, by full forwards of the PeftModel (PEFT's generate()
#    drops the prefix under transformers 5.25: tests/ref/prefix_golden.py); with
#    qlora_tools_prefix_positions 0, transformers given position_ids 0.. and PEFT's prompt as the
#    cache (ChatGLM2's convention). Writes tests/data/prefix/NAME-greedy.ids, one line of
#    comma-separated ids per prompt, and prints the smallest top-2 logit gap (a near-tie would
#    make the test fragile) and how many prompts the base model continues the same way.
import json
import os
import sys
import warnings

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

here = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(here, "..", "data", "prefix")
MAX_NEW, EOS = 8, 2
failed = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failed.append(what)


def greedy(step, prompt_ids):
    seq, new, gap = prompt_ids, [], float("inf")
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
    return new, gap


def main():
    model_dir, prompts_path = sys.argv[1], sys.argv[2]
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(model_dir)
    prompts = []
    for line in open(prompts_path, encoding="utf-8"):
        msgs = [{"role": "user", "content": json.loads(line)["content"]}]
        prompts.append(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                               return_dict=True,
                                               return_tensors="pt")["input_ids"][0])
    base_lines = []
    for name in ("ours-sft-tiny", "ours-sft-tiny-chatglm"):
        d = os.path.join(OUT, name)
        cfg = json.load(open(os.path.join(d, "adapter_config.json")))
        pos0 = cfg.get("qlora_tools_prefix_positions") == 0
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                    attn_implementation="eager").eval()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            pm = PeftModel.from_pretrained(base, d).eval()
        pc = pm.peft_config["default"]
        check(pc.peft_type == "PREFIX_TUNING" and pc.num_virtual_tokens == cfg["num_virtual_tokens"]
              and pc.prefix_projection == cfg["prefix_projection"],
              "%s: PEFT loads it (PREFIX_TUNING, %d slots, prefix_projection %s)%s"
              % (name, pc.num_virtual_tokens, pc.prefix_projection,
                 "; warnings: " + "; ".join(str(x.message)[:70] for x in w) if w else ""))
        ours = load_file(os.path.join(d, "adapter_model.safetensors"))["prompt_embeddings"]
        table = pm.prompt_encoder["default"].embedding.weight.detach()
        check(torch.equal(table, ours), "%s: PEFT's table is our prompt_embeddings %s bit for bit"
              % (name, tuple(ours.shape)))
        P = pc.num_virtual_tokens

        def after(seq):
            return pm(input_ids=seq[None]).logits[0, -1]

        def from0(seq):
            T = len(seq)
            return base(input_ids=seq[None], past_key_values=pm.get_prompt(1),
                        position_ids=torch.arange(T)[None],
                        attention_mask=torch.ones(1, P + T, dtype=torch.long)).logits[0, -1]

        lines, gap = [], float("inf")
        for ids in prompts:
            new, g = greedy(from0 if pos0 else after, ids)
            gap = min(gap, g)
            lines.append(",".join(str(i) for i in new))
        with open(os.path.join(OUT, name + "-greedy.ids"), "w") as f:
            f.write("\n".join(lines) + "\n")
        if not base_lines:
            base_lines = [",".join(str(i) for i in greedy(
                lambda s: base(input_ids=s[None]).logits[0, -1], ids)[0]) for ids in prompts]
        same = sum(a == b for a, b in zip(lines, base_lines))
        print("%s: positions %s, smallest top-2 gap %.4g, %d of %d prompts as the base model's"
              % (name, "from 0" if pos0 else "after the prefix", gap, same, len(lines)))
    print("%d failed" % len(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
