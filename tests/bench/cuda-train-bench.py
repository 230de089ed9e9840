#!/usr/bin/env python3
# NEVER RUN: written on a machine without a GPU (issue 10); no figure from it exists yet.
# PyTorch + PEFT peer of tests/bench/cuda-train-bench.sh on the same GPU and the same shapes:
#   train SHAPE T STEPS   QLoRA (bitsandbytes NF4 base, blocksize 64, bf16 compute; plain bf16
#                         base if bitsandbytes is missing, said on stderr) + PEFT LoRA r16 alpha 32
#                         all-linear, gradient checkpointing, AdamW lr 2e-4, clipping 1.0, one
#                         block of T random tokens per step, step 0 warm-up; prints tokens_s,
#                         peak_mib (torch.cuda.max_memory_allocated) and mfu_tflops with the
#                         model-FLOPs formula of tests/bench/cuda_train_bench.c
#   decode SHAPE N        greedy decode of N tokens at batch 1 (bf16 weights, KV cache):
#                         tokens_s and weight_gbs (bf16 weight bytes per token * tokens/s)
# SHAPE: smollm2-135m or llama-1b (Llama-3.2-1B shape), random weights (seeded).
# Needs torch (CUDA), transformers, peft; bitsandbytes for the NF4 base.
import sys
import time

SHAPES = {
    "smollm2-135m": dict(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                         num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         head_dim=64, tie_word_embeddings=True, rope_theta=100000.0),
    "llama-1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192,
                     num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                     head_dim=64, tie_word_embeddings=True, rope_theta=500000.0),
}


def model_flops_per_token(s, T, n_lora):
    C, H, L = s["hidden_size"], s["intermediate_size"], s["num_hidden_layers"]
    QD = s["num_attention_heads"] * s["head_dim"]
    KD = s["num_key_value_heads"] * s["head_dim"]
    n_lin = L * (C * QD + 2 * C * KD + QD * C + 3 * C * H)
    return (4 * n_lin + 6 * n_lora + 6 * L * T * s["num_attention_heads"] * s["head_dim"]
            + 4 * s["vocab_size"] * C)


def build(shape, dtype):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(max_position_embeddings=8192, rms_norm_eps=1e-5, **SHAPES[shape])
    return cfg, LlamaForCausalLM(cfg).to(dtype)


def train(shape, T, steps):
    import torch
    from peft import LoraConfig, get_peft_model
    cfg, model = build(shape, torch.bfloat16)
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
        import tempfile
        d = tempfile.mkdtemp()
        model.save_pretrained(d)
        from transformers import LlamaForCausalLM
        q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                               bnb_4bit_compute_dtype=torch.bfloat16)
        model = LlamaForCausalLM.from_pretrained(d, quantization_config=q,
                                                 torch_dtype=torch.bfloat16, device_map="cuda")
    except ImportError:
        print("bitsandbytes missing: bf16 base instead of NF4", file=sys.stderr)
        model = model.cuda()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    n_lora = sum(p.numel() for p in model.parameters() if p.requires_grad)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, cfg.vocab_size, (1, T), generator=g).cuda()
    torch.cuda.reset_peak_memory_stats()
    for s in range(steps + 1):
        if s == 1:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    tps = T * steps / (time.perf_counter() - t0)
    f = model_flops_per_token(SHAPES[shape], T, n_lora)
    print(f"tokens_s {tps:.1f}")
    print(f"peak_mib {torch.cuda.max_memory_allocated() / 2**20:.0f}")
    print(f"mfu_tflops {tps * f / 1e12:.2f}")


def decode(shape, n):
    import torch
    cfg, model = build(shape, torch.bfloat16)
    model = model.cuda().eval()
    ids = torch.tensor([[1, 2, 3, 4]], device="cuda")
    with torch.no_grad():
        model.generate(ids, max_new_tokens=8, do_sample=False, min_new_tokens=8)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.generate(ids, max_new_tokens=n, do_sample=False, min_new_tokens=n)
        torch.cuda.synchronize()
    tps = n / (time.perf_counter() - t0)
    wbytes = sum(p.numel() for p in model.parameters()) * 2
    print(f"tokens_s {tps:.1f}")
    print(f"weight_gbs {tps * wbytes / 1e9:.0f}")


if __name__ == "__main__":
    if sys.argv[1] == "train":
        train(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "decode":
        decode(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: cuda-train-bench.py train SHAPE T STEPS | decode SHAPE N")
