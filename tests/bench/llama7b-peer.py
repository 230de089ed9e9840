#!/usr/bin/env python3
# The Python stack's side of tests/bench/llama7b-bench.sh (PEER=1), the same work on the same
# 7B-shaped model where it fits in the machine's memory. Subcommands:
#   quantize BASE OUT      transformers + bitsandbytes: load BASE as NF4 (double quant, bf16
#                          compute, bnb_4bit_quant_type nf4, on the CPU) and save_pretrained
#   gen BASE PROMPT N      transformers: BASE in bf16 (the fp32 model, 27 GB, does not fit),
#                          greedy generate of 1 and N + 1 new tokens after the chat template
#                          applied to the first {"messages": ...} line of PROMPT; prints the
#                          prompt length, prefill seconds and decode tokens/s
#   merge BASE ADAPTER OUT PEFT: merge_and_unload of our adapter into the bf16 base, saved bf16
# Uses torch, transformers, peft, bitsandbytes from /work/venv-ref; THREADS threads.
import os
import sys
import time

import torch

torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))


def quantize(base, out):
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                           bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16)
    m = AutoModelForCausalLM.from_pretrained(base, quantization_config=q, device_map="cpu",
                                             dtype=torch.bfloat16)
    m.save_pretrained(out)


def gen(base, prompt, n):
    import json
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(base)
    with open(prompt) as f:
        msgs = json.loads(f.readline())["messages"]
    x = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt",
                                return_dict=True)["input_ids"]
    m = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16)
    m.eval()
    with torch.no_grad():
        t0 = time.perf_counter()
        m.generate(x, max_new_tokens=1, do_sample=False)
        t1 = time.perf_counter()
        m.generate(x, max_new_tokens=n + 1, do_sample=False)
        t2 = time.perf_counter()
    print("prompt %d tokens; prefill %.2f s; decode %.3f tokens/s (%d tokens after the first)"
          % (x.shape[1], t1 - t0, n / ((t2 - t1) - (t1 - t0)), n))


def merge(base, adapter, out):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16)
    m = PeftModel.from_pretrained(m, adapter).merge_and_unload()
    m.save_pretrained(out)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "quantize":
        quantize(*args)
    elif cmd == "gen":
        gen(args[0], args[1], int(args[2]))
    elif cmd == "merge":
        merge(*args)
    else:
        sys.exit("usage: llama7b-peer.py quantize|gen|merge ...")
