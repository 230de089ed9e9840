#!/usr/bin/env python3
# Helper of tests/bench/lora-train-bench.sh (see there). Subcommands:
#   make-fixture DIR   random SmolLM2-135M-shaped f32 Llama in DIR/base, DIR/train.pack with 4
#                      blocks of T = 512 tokens (one segment each, every token but the first
#                      trained) written with our .pack layout (pack(5))
#   peft DIR STEPS [no-checkpointing] [bf16]
#                      STEPS optimizer steps of PEFT LoRA r 16 all-linear (alpha 32, dropout 0)
#                      with gradient checkpointing (unless no-checkpointing), AdamW, clipping
#                      1.0, one block per step, on THREADS threads; prints trained tokens/s
#                      over steps 2..STEPS. bf16: the forward under torch.autocast("cpu",
#                      torch.bfloat16), as the Trainer's bf16=True runs it on the CPU
#   sgemm [bf16]       the machine's f32 (or bf16) GEMM rate through torch (2048^3, best of 5,
#                      THREADS threads) in GFLOP/s: the yardstick for the model FLOP rates
# Uses torch, peft, transformers, xxhash from /work/venv-ref.
import os
import struct
import sys
import time

import numpy as np

T, NB, V = 512, 4, 49152


def make_fixture(d):
    import torch
    import xxhash
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=V, hidden_size=576, intermediate_size=1536,
                      num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                      head_dim=64, max_position_embeddings=8192, rms_norm_eps=1e-5,
                      rope_theta=100000.0, tie_word_embeddings=True, bos_token_id=1,
                      eos_token_id=2, pad_token_id=2)
    LlamaForCausalLM(cfg).to(torch.float32).save_pretrained(os.path.join(d, "base"))
    rng = np.random.default_rng(1)
    bs = (7 * T + 8 + 63) // 64 * 64
    data, sums = b"", []
    for _ in range(NB):
        ids = rng.integers(3, V, T).astype("<u4")
        seg = np.ones(T, "<u2")
        mask = np.ones(T, np.uint8)
        mask[0] = 0
        body = ids.tobytes() + seg.tobytes() + mask.tobytes()
        body += b"\0" * (bs - 8 - len(body))
        h = xxhash.xxh3_64_intdigest(body)
        data += body + struct.pack("<Q", h)
        sums.append(h)
    hdr = bytearray(128)
    hdr[0:8] = b"QLPACKBL"
    struct.pack_into("<IIQQIIIIII", hdr, 8, 1, 128, 0, 0, V, 2, 2, T, bs, 1)
    payload = xxhash.xxh3_64_intdigest(b"".join(struct.pack("<Q", s) for s in sums))
    struct.pack_into("<QQQQIIQQQQ", hdr, 56, NB, NB, NB * T, NB * (T - 1), 0, 1, 0, 0, payload, 0)
    struct.pack_into("<Q", hdr, 120, xxhash.xxh3_64_intdigest(bytes(hdr)))
    with open(os.path.join(d, "train.pack"), "wb") as f:
        f.write(bytes(hdr) + data)


def peft_run(d, steps, ckpt, bf16):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM
    torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))
    rng = np.random.default_rng(1)
    blocks = [torch.tensor(rng.integers(3, V, T))[None] for _ in range(NB)]
    model = LlamaForCausalLM.from_pretrained(os.path.join(d, "base"), dtype=torch.float32)
    if ckpt:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.0)
    t1 = None
    for k in range(steps):
        if k == 1:
            t1 = time.perf_counter()
        x = blocks[k % NB]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad()
    el = time.perf_counter() - t1
    print("%.3f" % ((steps - 1) * (T - 1) / el))


def sgemm_rate(bf16):
    import torch
    torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))
    n = 2048
    dt = torch.bfloat16 if bf16 else torch.float32
    a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
    torch.mm(a, b)
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2.0 * n ** 3 / (time.perf_counter() - t0) * 1e-9)
    print("%.1f" % best)


if __name__ == "__main__":
    if sys.argv[1] == "sgemm":
        sgemm_rate(sys.argv[2:] == ["bf16"])
    elif sys.argv[1] == "make-fixture":
        make_fixture(sys.argv[2])
    else:
        peft_run(sys.argv[2], int(sys.argv[3]), "no-checkpointing" not in sys.argv[4:],
                 "bf16" in sys.argv[4:])
