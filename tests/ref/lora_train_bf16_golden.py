#!/usr/bin/env python3
# Golden curves for lora-train --bf16: the 20-step run of lora_train_golden.py (same train.pack,
# same init/ adapter, same AdamW / schedule / clipping / accumulation, its code imported), with
# the frozen base weights' products in bf16. Run from the repository root, after
# lora_train_golden.py (it reads that script's init/ and curve.txt):
#
#     /work/venv-ref/bin/python tests/ref/lora_train_bf16_golden.py [--noise | --borderline B]
#
# Committed output produced with torch 2.15.0, peft 0.21.2, transformers 5.23.0, xxhash 4.1.0
# (the versions of lora_train_golden.py, all on PyPI), torch's default 2 threads on a 2-core
# machine (with 2 threads lora_train_golden.py reproduces curve.txt bit for bit; with 1 thread
# the order of torch's sums moves it by up to 2.3e-7 relative).
# Writes tests/data/lora_train/bf16/:
#   curve_base_bf16.txt  in curve.txt's format ("loss_block0_sum N0", then "step loss grad_norm
#                        lr" per optimizer step), lora-train --bf16's semantics: every product
#                        with a frozen base weight (the seven Llama linears' base_layer and the
#                        LM head, here tied to the embedding) rounds its activation operand and
#                        the weight to bf16 (to nearest even), sums in f32 and keeps the output
#                        f32: the forward y = x W^T (+ bias in f32) and the input gradient
#                        dx = dout W (dout rounded); the weight gets no gradient (frozen).
#                        Everything else f32: LoRA A/B and their gradients, norms, RoPE,
#                        attention, softmax, loss, AdamW.
#   block0_base_bf16.txt "loss grad_norm" of block 0 alone at init under the same semantics
#                        (token mean; gradient norm before clipping): the first step of
#                        lora-train --bf16 --grad-accum 1.
#   curve_autocast.txt   curve.txt's format, the usual recipe: the f32 PEFT model trained with its
#                        forward and loss under torch.autocast("cpu", dtype=torch.bfloat16), as
#                        the HF Trainer's bf16=True does it on CPU (accelerate wraps model.forward
#                        in autocast and converts the outputs to f32; backward runs outside
#                        autocast). Autocast also rounds the LoRA products, the attention matmuls
#                        and the output of every matmul (and their gradients) to bf16.
# Max relative difference over the 20 steps (printed by this script; the figures quoted):
#   f32 curve.txt vs base_bf16   loss 1.7e-04  grad_norm 2.5e-03
#   f32 curve.txt vs autocast    loss 3.0e-04  grad_norm 3.2e-03
#   base_bf16 vs autocast        loss 3.5e-04  grad_norm 1.7e-03
# All three are about the size of base_bf16's own summation-order noise over 20 steps (--noise):
# rounding to bf16 makes the curve chaotic. An activation that lies an f32 ulp from a bf16
# rounding midpoint rounds the other way when the sums before it are reordered, a jump of a
# bf16 ulp (2^-8 relative), and that jump spreads through the later layers and steps. Measured
# with the modes below: in block 1 at init, one input of layer 0's o_proj is 1 f32 ulp from its
# midpoint, and rounding it the other way moves that block's loss by 5.8e-5; over 20 steps the
# curve moves by up to 2.1e-4 (loss) and 1.1e-3 (grad_norm) from reordered sums alone.
#   --noise         base_bf16 again with its sums reordered (each frozen product's inner
#                   dimension permuted, 3 seeds; and every op in f64): the step-1 and 20-step
#                   relative distances to curve_base_bf16.txt (bf16-curve.sh's tolerances).
#   --borderline B  block B's forward at init: the frozen products' input elements nearest a bf16
#                   rounding midpoint (in f32 ulps), and the block's loss with each one rounded
#                   the other way. A block loss of ours equal to one of these is a rounding that
#                   flipped, not a wrong semantics.
import os
import sys

import torch
import torch.nn.functional as F
from peft import PeftModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lora_train_golden as g  # noqa: E402  (same directory; its constants and step loop)

OUT = os.path.join(g.OUT, "bf16")
N_NOISE_SEEDS = 3  # permutations in --noise: enough to see the spread, 10 s each on 2 cores
N_BORDERLINE = 12  # elements --borderline tries


def bf16(t):
    """t rounded to bf16 (torch rounds to nearest even) and back to t's dtype, exactly."""
    return t.to(torch.bfloat16).to(t.dtype)


class FrozenBf16Linear(torch.autograd.Function):
    """y = bf16(x) bf16(W)^T + b summed in f32; dx = bf16(dout) bf16(W); no dW, no db (frozen).
    x: (..., in); w: (out, in); b: (out) or None; y: (..., out)."""

    @staticmethod
    def forward(ctx, x, w, b):
        wb = bf16(w)
        ctx.save_for_backward(wb)
        return F.linear(bf16(x), wb, b)

    @staticmethod
    def backward(ctx, dout):
        (wb,) = ctx.saved_tensors
        dx = bf16(dout) @ wb if ctx.needs_input_grad[0] else None
        return dx, None, None


def permuted_linear(seed):
    """FrozenBf16Linear with each product's inner dimension in a fixed random order: the same
    math, other f32 sums (--noise)."""
    def perm(n):
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000 + n))

    class Permuted(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b):
            ctx.save_for_backward(w)
            p = perm(w.shape[1])
            return F.linear(bf16(x)[..., p], bf16(w)[:, p], b)

        @staticmethod
        def backward(ctx, dout):
            (w,) = ctx.saved_tensors
            q = perm(w.shape[0])
            return bf16(dout)[..., q] @ bf16(w)[q, :], None, None
    return Permuted


def load_model():
    """The f32 PEFT model with init/'s adapter, trainable, in train mode."""
    base = g.LlamaForCausalLM.from_pretrained(g.MODEL, torch_dtype=torch.float32,
                                              attn_implementation="eager")
    model = PeftModel.from_pretrained(base, os.path.join(g.OUT, "init"), is_trainable=True)
    model.train()
    return model


def make_base_bf16(model, fn=FrozenBf16Linear):
    """Routes every frozen nn.Linear (the targets' base_layer, the LM head) through fn (an
    autograd.Function of x, W, bias); exits unless that is 7 per layer plus the head."""
    n = 0
    for _, m in model.named_modules():
        if isinstance(m, torch.nn.Linear) and not m.weight.requires_grad:
            m.forward = (lambda mod: lambda x: fn.apply(x, mod.weight, mod.bias))(m)
            n += 1
    want = len(g.TARGETS) * model.base_model.model.config.num_hidden_layers + 1
    if n != want:
        sys.exit("patched %d frozen linears, expected %d" % (n, want))
    return model


def autocast_loss_sum(model, ids, seg, mask):
    """block_loss_sum with the forward and the loss under CPU bf16 autocast (the Trainer's
    bf16=True); the caller's backward runs outside it, as the Trainer's does."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return g.block_loss_sum(model, ids, seg, mask)


def run(model, blocks, loss_sum=g.block_loss_sum):
    """curve.txt's lines for model: block 0's summed loss at init, then the 20 steps."""
    init = {k: p.detach().clone() for k, p in g.lora_params(model)}
    with torch.no_grad():
        s, n = loss_sum(model, *blocks[0])
    return ["%.9e %d" % (float(s), n)] + g.train_curve(model, blocks, init, loss_sum)


def block_at_init(model, block):
    """One block's token-mean loss and the norm of its LoRA gradients, at model's adapter."""
    model.zero_grad()
    s, n = g.block_loss_sum(model, *block)
    (s / n).backward()
    gn = torch.sqrt(sum((p.grad.double() ** 2).sum() for _, p in g.lora_params(model)))
    return float(s.detach()) / n, float(gn)


def steps(lines):
    return [[float(v) for v in l.split()] for l in lines[1:]]


def max_rel(a, b, col, first=None):
    return max(abs(x[col] - y[col]) / abs(y[col]) for x, y in list(zip(a, b))[:first])


def read_lines(path):
    with open(path) as f:
        return f.read().split("\n")[:-1]


def noise(blocks):
    ref = steps(read_lines(os.path.join(OUT, "curve_base_bf16.txt")))
    runs = [("permuted sums, seed %d" % s, lambda s=s: make_base_bf16(load_model(),
                                                                   permuted_linear(s)))
            for s in range(1, N_NOISE_SEEDS + 1)]
    runs.append(("every op in f64", lambda: make_base_bf16(load_model().double())))
    for name, build in runs:
        c = steps(run(build(), blocks))
        print("%-24s step 1: loss %.2g grad_norm %.2g; 20 steps: loss %.2g grad_norm %.2g"
              % (name, max_rel(c, ref, 1, 1), max_rel(c, ref, 2, 1), max_rel(c, ref, 1),
                 max_rel(c, ref, 2)), flush=True)


def borderline(blocks, b):
    """--borderline b: see the header."""
    st = {"call": 0, "dist": [], "flip": None}

    class Probe(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, bias):
            c, st["call"] = st["call"], st["call"] + 1
            xb = bf16(x)
            bits = x.detach().contiguous().view(torch.int32).reshape(-1)
            if st["flip"] is None:  # distance of the 16 dropped bits from the midpoint 0x8000
                st["dist"].append(((bits & 0xFFFF) - 0x8000).abs())
            elif st["flip"][0] == c:
                i = st["flip"][1]
                v = int(bits[i]) & ~0xFFFF
                if int(bits[i]) & 0xFFFF < 0x8000:
                    v += 0x10000  # rounded down: take the upper neighbour, else the lower
                xb = xb.clone().reshape(-1)
                xb[i] = torch.tensor(v, dtype=torch.int32).view(torch.float32)
                xb = xb.reshape(x.shape)
            return F.linear(xb, bf16(w), bias)

    model = make_base_bf16(load_model(), Probe)

    def loss():
        st["call"] = 0
        with torch.no_grad():
            s, n = g.block_loss_sum(model, *blocks[b])
        return float(s) / n

    l0 = loss()
    near = sorted((int(d[i]), c, int(i)) for c, d in enumerate(st["dist"])
                  for i in torch.topk(-d, min(N_BORDERLINE, d.numel())).indices)
    print("block %d at init: loss %.7g (product calls in forward order, 15 a segment)" % (b, l0))
    for d, c, i in near[:N_BORDERLINE]:
        st["flip"] = (c, i)
        l = loss()
        print("call %2d element %5d, %5d f32 ulps from the midpoint: flipped, loss %.7g (%+.1e)"
              % (c, i, d, l, (l - l0) / l0))


def main():
    blocks = g.make_blocks(g.np.random.default_rng(7))  # the blocks of train.pack
    if sys.argv[1:2] == ["--noise"]:
        return noise(blocks)
    if sys.argv[1:2] == ["--borderline"] and len(sys.argv) == 3:
        return borderline(blocks, int(sys.argv[2]))
    if len(sys.argv) > 1:
        sys.exit("usage: lora_train_bf16_golden.py [--noise | --borderline BLOCK]")
    f32_committed = read_lines(os.path.join(g.OUT, "curve.txt"))

    # Self-check: this script's model building reproduces the committed f32 curve.
    e = max(max_rel(steps(run(load_model(), blocks)), steps(f32_committed), c) for c in (1, 2))
    print("f32 rerun vs curve.txt: max relative difference %.2g" % e)
    if e > 1e-6:
        sys.exit("f32 rerun does not reproduce curve.txt: check the venv's versions")

    base = run(make_base_bf16(load_model()), blocks)
    b0 = block_at_init(make_base_bf16(load_model()), blocks[0])
    auto = run(load_model(), blocks, autocast_loss_sum)

    os.makedirs(OUT, exist_ok=True)
    for name, lines in (("curve_base_bf16.txt", base), ("curve_autocast.txt", auto),
                        ("block0_base_bf16.txt", ["%.9e %.9e" % b0])):
        with open(os.path.join(OUT, name), "w") as f:
            f.write("\n".join(lines) + "\n")
    for what, a, b in (("f32 curve.txt vs base_bf16", base, f32_committed),
                       ("f32 curve.txt vs autocast ", auto, f32_committed),
                       ("base_bf16 vs autocast     ", auto, base)):
        print("%s loss %.2g  grad_norm %.2g" % (what, max_rel(steps(a), steps(b), 1),
                                               max_rel(steps(a), steps(b), 2)))


if __name__ == "__main__":
    sys.exit(main())
