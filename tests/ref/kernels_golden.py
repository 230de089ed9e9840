#!/usr/bin/env python3
# Golden tensors for tests/kernels/test_*.c, written to tests/data/kernels/<op>.bin.
# Run from the repository root:  /work/venv-ref/bin/python tests/ref/kernels_golden.py
# Committed output produced with torch 2.15.0 (CPU) and transformers 5.23.0, float32 throughout.
#
# File layout (little-endian), read by tests/kernels/kcheck.h:
#   8 bytes magic "QTKGOLD1", uint32 tensor count, then per tensor:
#   char name[24] (NUL padded), uint32 dtype (0 = f32, 1 = i32), uint32 ndim,
#   uint32 dims[4] (unused dims 1), then prod(dims) * 4 bytes of data, row-major.
import math
import os
import struct
import types

import torch
import torch.nn.functional as F
from transformers import LlamaConfig
from transformers.models.llama import modeling_llama as ml

OUT = "tests/data/kernels"
torch.manual_seed(1234)


def write(op, tensors):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, op + ".bin"), "wb") as f:
        f.write(b"QTKGOLD1" + struct.pack("<I", len(tensors)))
        for name, t in tensors.items():
            t = t.detach().contiguous()
            if t.dtype in (torch.int64, torch.int32, torch.bool):
                dt, t = 1, t.to(torch.int32)
            else:
                dt, t = 0, t.to(torch.float32)
            dims = list(t.shape) + [1] * (4 - t.dim())
            assert len(name) < 24 and t.dim() <= 4
            f.write(name.encode().ljust(24, b"\0"))
            f.write(struct.pack("<6I", dt, t.dim(), *dims))
            f.write(t.numpy().astype("<f4" if dt == 0 else "<i4").tobytes())


def rmsnorm():
    d = {}
    for i, (T, C, scale) in enumerate([(5, 37, 1.0), (3, 576, 4.0), (1, 8, 0.01)]):
        norm = ml.LlamaRMSNorm(C, eps=1e-5)
        with torch.no_grad():
            norm.weight.copy_(torch.randn(C) * 0.5 + 1.0)
        x = (torch.randn(T, C) * scale).requires_grad_(True)
        y = norm(x)
        dy = torch.randn(T, C)
        (y * dy).sum().backward()
        d.update({f"x{i}": x, f"w{i}": norm.weight, f"y{i}": y, f"dy{i}": dy, f"dx{i}": x.grad})
    write("rmsnorm", d)


def rope():
    cases = [
        dict(hd=64, theta=100000.0, scaling=None, nh=3, nkv=1),
        dict(hd=16, theta=10000.0, scaling={"rope_type": "linear", "factor": 2.0}, nh=2, nkv=2),
        dict(hd=64, theta=500000.0, scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                             "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
             nh=4, nkv=2),
        dict(hd=128, theta=500000.0, scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                              "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
             nh=1, nkv=1),
    ]
    d = {}
    for i, c in enumerate(cases):
        rp = {"rope_type": "default", "rope_theta": c["theta"]}
        if c["scaling"]:
            rp.update(c["scaling"])
        cfg = LlamaConfig(hidden_size=c["hd"] * c["nh"], num_attention_heads=c["nh"],
                          num_key_value_heads=c["nkv"], head_dim=c["hd"], rope_parameters=rp,
                          max_position_embeddings=131072)
        emb = ml.LlamaRotaryEmbedding(cfg)
        # packed positions: segments of length 4, 1, 3, then large positions
        pos = torch.tensor([[0, 1, 2, 3, 0, 0, 1, 2, 100, 4095, 8191, 65000]])
        T = pos.shape[1]
        q = torch.randn(1, c["nh"], T, c["hd"], requires_grad=True)
        k = torch.randn(1, c["nkv"], T, c["hd"], requires_grad=True)
        cos, sin = emb(q, pos)
        qr, kr = ml.apply_rotary_pos_emb(q, k, cos, sin)
        dq_out = torch.randn_like(qr)
        dk_out = torch.randn_like(kr)
        ((qr * dq_out).sum() + (kr * dk_out).sum()).backward()
        tl = lambda t: t[0].transpose(0, 1)  # (H, T, HD) -> (T, H, HD)
        d.update({f"inv{i}": emb.inv_freq, f"pos{i}": pos[0], f"cos{i}": cos[0], f"sin{i}": sin[0],
                  f"q{i}": tl(q), f"k{i}": tl(k), f"qr{i}": tl(qr), f"kr{i}": tl(kr),
                  f"dqr{i}": tl(dq_out), f"dkr{i}": tl(dk_out), f"dq{i}": tl(q.grad), f"dk{i}": tl(k.grad)})
    write("rope", d)


def attention():
    d = {}
    cases = [(2, 7, 6, 2, 8, [[0, 0, 0, 1, 2, 2, 2], [5, 5, 5, 5, 5, 5, 5]]),
             (1, 1, 3, 3, 5, [[0]]),
             (1, 9, 9, 3, 64, [[0, 1, 1, 1, 1, 1, 2, 2, 3]])]
    for i, (B, T, NH, NKV, HD, seg) in enumerate(cases):
        seg = torch.tensor(seg)
        q = torch.randn(B, NH, T, HD, requires_grad=True)
        k = torch.randn(B, NKV, T, HD, requires_grad=True)
        v = torch.randn(B, NKV, T, HD, requires_grad=True)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        allowed = causal[None] & (seg[:, :, None] == seg[:, None, :])
        mask = torch.zeros(B, 1, T, T).masked_fill(~allowed[:, None], torch.finfo(torch.float32).min)
        mod = types.SimpleNamespace(num_key_value_groups=NH // NKV, training=False)
        out, _ = ml.eager_attention_forward(mod, q, k, v, mask, HD ** -0.5)
        dout = torch.randn_like(out)
        (out * dout).sum().backward()
        s = torch.matmul(q, ml.repeat_kv(k, NH // NKV).transpose(2, 3)) * HD ** -0.5 + mask
        lse = torch.logsumexp(s, dim=-1)  # (B, NH, T)
        tl = lambda t: t.transpose(1, 2)  # (B, H, T, HD) -> (B, T, H, HD)
        d.update({f"q{i}": tl(q), f"k{i}": tl(k), f"v{i}": tl(v), f"seg{i}": seg, f"out{i}": out,
                  f"lse{i}": lse, f"dout{i}": dout, f"dq{i}": tl(q.grad), f"dk{i}": tl(k.grad),
                  f"dv{i}": tl(v.grad)})
    write("attention", d)


def swiglu():
    d = {}
    for i, (T, H) in enumerate([(3, 11), (1, 1536)]):
        g = (torch.randn(T, H) * 3).requires_grad_(True)
        u = torch.randn(T, H, requires_grad=True)
        out = F.silu(g) * u
        dout = torch.randn_like(out)
        (out * dout).sum().backward()
        d.update({f"g{i}": g, f"u{i}": u, f"out{i}": out, f"dout{i}": dout, f"dg{i}": g.grad, f"du{i}": u.grad})
    write("swiglu", d)


def matmul():
    d = {}
    for i, (T, C, OC) in enumerate([(4, 13, 9), (33, 64, 48), (1, 576, 7)]):
        x = torch.randn(T, C, requires_grad=True)
        W = (torch.randn(OC, C) / math.sqrt(C)).requires_grad_(True)
        b = torch.randn(OC, requires_grad=True)
        y = F.linear(x, W, b)
        dy = torch.randn_like(y)
        (y * dy).sum().backward()
        d.update({f"x{i}": x, f"W{i}": W, f"b{i}": b, f"y{i}": y, f"dy{i}": dy,
                  f"dx{i}": x.grad, f"dW{i}": W.grad, f"db{i}": b.grad})
    write("matmul", d)


def cross_entropy():
    d = {}
    for i, (T, V, norm) in enumerate([(6, 50, 7.0), (1, 5, 1.0), (4, 3001, 3.0)]):
        logits = (torch.randn(T, V) * 3).requires_grad_(True)
        tgt = torch.randint(0, V, (T,))
        if T > 1:
            tgt[1] = -100
            tgt[T - 1] = -100
        losses = F.cross_entropy(logits, tgt, ignore_index=-100, reduction="none")
        loss = F.cross_entropy(logits, tgt, ignore_index=-100, reduction="sum") / norm
        loss.backward()
        d.update({f"logits{i}": logits, f"tgt{i}": tgt, f"losses{i}": losses, f"loss{i}": loss.reshape(1),
                  f"norm{i}": torch.tensor([norm]), f"dlogits{i}": logits.grad})
    write("cross_entropy", d)
    x = torch.randn(3, 50) * 4
    write("softmax", {"x": x, "y": torch.softmax(x, dim=-1)})


def adamw():
    d = {}
    p = torch.nn.Parameter(torch.randn(37))
    d["p0"] = p.detach().clone()
    opt = torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    for s in range(3):
        g = torch.randn(37) * (10 ** (s - 1))
        p.grad = g.clone()
        opt.step()
        d[f"g{s}"] = g
        d[f"p{s + 1}"] = p.detach().clone()
    st = opt.state[p]
    d["m"], d["v"] = st["exp_avg"], st["exp_avg_sq"]
    # clip_grad_norm_ over three tensors
    ps = [torch.nn.Parameter(torch.zeros(n)) for n in (5, 7, 11)]
    for j, q in enumerate(ps):
        q.grad = torch.randn(q.shape) * (j + 1)
        d[f"cg{j}"] = q.grad.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm=1.0)
    for j, q in enumerate(ps):
        d[f"cc{j}"] = q.grad.clone()
    d["total"] = total.reshape(1)
    write("adamw", d)


if __name__ == "__main__":
    rmsnorm(); rope(); attention(); swiglu(); matmul(); cross_entropy(); adamw()
    print("wrote", sorted(os.listdir(OUT)))
