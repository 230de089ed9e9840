"""The peer side of tests/gpu/check.sh's speed figures, on the same GPU in the same call:
  ceilings  the card's bf16 matrix rate (cuBLAS through torch.matmul, 8192^3, random data) and
            its device-to-device copy bandwidth (bytes read + written)
  train     PyTorch + PEFT LoRA (bf16 base and adapters, r16 all-linear, alpha 32, AdamW, SDPA
            attention), one block of T random tokens per step, gradient checkpointing on and off:
            tokens/s over the timed steps after warm-up, peak allocated/reserved memory
  decode    transformers generate, greedy, batch 1, bf16: decode tokens/s (the difference of a
            long and a short generation, so load and prefill cancel)
Prints one JSON object per figure. Usage:
  python3 tests/gpu/peer.py ceilings
  python3 tests/gpu/peer.py train MODEL_DIR T STEPS
  python3 tests/gpu/peer.py decode MODEL_DIR NEW_TOKENS"""
import json, sys, time
import torch

dev = "cuda" if torch.cuda.is_available() else "cpu"
# bf16 on the GPU; float32 when rehearsing on a CPU (bf16 matrix products crawl on most CPUs)
dt = torch.bfloat16 if dev == "cuda" else torch.float32


def sync():
    if dev == "cuda":
        torch.cuda.synchronize()


def emit(**kw):
    print(json.dumps(kw), flush=True)


def timed(fn, reps, warm=3):
    for _ in range(warm):
        fn()
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def ceilings():
    n = 8192 if dev == "cuda" else 256
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    t = timed(lambda: a @ b, 10)
    emit(what="bf16_matmul", n=n, tflops=2 * n ** 3 / t / 1e12)
    a = a.float()
    b = b.float()
    t = timed(lambda: a @ b, 5)
    emit(what="fp32_matmul", n=n, tflops=2 * n ** 3 / t / 1e12,
         tf32=torch.backends.cuda.matmul.allow_tf32)
    m = (1 << 30) if dev == "cuda" else (1 << 24)
    x = torch.empty(m, device=dev, dtype=torch.float32).uniform_()
    y = torch.empty_like(x)
    t = timed(lambda: y.copy_(x), 10)
    emit(what="copy", bytes=2 * 4 * m, gb_per_s=2 * 4 * m / t / 1e9)


def load(model_dir):
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=dt,
                                                attn_implementation="sdpa").to(dev)


def train(model_dir, T, steps):
    from peft import LoraConfig, get_peft_model
    for ckpt in (True, False):
        model = load(model_dir)
        model.config.use_cache = False
        if ckpt:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                                 target_modules="all-linear", task_type="CAUSAL_LM"))
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, model.config.vocab_size, (1, T), generator=g).to(dev)

        def step():
            out = model(input_ids=ids, labels=ids)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        if dev == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t = timed(step, steps, warm=3)
        mem = torch.cuda.max_memory_allocated() if dev == "cuda" else 0
        res = torch.cuda.max_memory_reserved() if dev == "cuda" else 0
        emit(what="peft_train", model=model_dir, T=T, checkpointing=ckpt, tokens_per_s=T / t,
             step_s=t, peak_allocated_mib=mem / 2 ** 20, peak_reserved_mib=res / 2 ** 20)
        del model, opt
        if dev == "cuda":
            torch.cuda.empty_cache()


def decode(model_dir, new):
    model = load(model_dir)
    ids = torch.arange(1, 33, device=dev).unsqueeze(0)

    def gen(n):
        return lambda: model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                      pad_token_id=0)
    short = timed(gen(16), 2, warm=1)
    long = timed(gen(16 + new), 2, warm=0)
    emit(what="hf_decode", model=model_dir, new_tokens=new, tokens_per_s=new / (long - short))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "ceilings":
        ceilings()
    elif cmd == "train":
        train(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "decode":
        decode(sys.argv[2], int(sys.argv[3]))
