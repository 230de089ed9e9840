#!/usr/bin/env python3
# PEFT's side of tests/bench/lora-merge-bench.sh, and the fixture maker.
#   make-fixture DIR : writes DIR/base (a random bf16 Llama shaped like SmolLM2-135M: hidden 576,
#                      30 layers, intermediate 1536, 9 heads, 3 kv heads, vocab 49152, tied) and
#                      DIR/adapter (PEFT LoRA r 16, alpha 32, all linear modules, random B)
#   peft DIR OUT     : prints best-of-3 seconds of what a PEFT user runs to merge: load the base,
#                      PeftModel.from_pretrained, merge_and_unload, save_pretrained(OUT)
import os, shutil, sys, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, PeftModel, get_peft_model

cmd, d = sys.argv[1], sys.argv[2]
if cmd == "make-fixture":
    torch.manual_seed(5)
    cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                      num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                      max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=100000.0,
                      tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    m = LlamaForCausalLM(cfg).to(torch.bfloat16)
    m.save_pretrained(os.path.join(d, "base"))
    p = get_peft_model(m.float(), LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    with torch.no_grad():
        for n, t in p.named_parameters():
            if "lora_B" in n:
                t.normal_(0, 0.01)
    p.save_pretrained(os.path.join(d, "adapter"))
elif cmd == "peft":
    out = sys.argv[3]
    torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))
    best = 1e30
    for _ in range(3):
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        m = LlamaForCausalLM.from_pretrained(os.path.join(d, "base"), dtype=torch.bfloat16)
        m = PeftModel.from_pretrained(m, os.path.join(d, "adapter")).merge_and_unload()
        m.save_pretrained(out)
        best = min(best, time.perf_counter() - t0)
    print("%.4f" % best)
