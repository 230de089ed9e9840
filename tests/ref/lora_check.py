#!/usr/bin/env python3
# Reference checks of formats/adapter and lora-merge against PEFT and transformers, on the
# fixtures of tests/ref/lora.py. Needs the built tools, not run by `make test`:
#   make && /work/venv-ref/bin/python tests/ref/lora_check.py [BIN_DIR [BUILD_DIR]]
# Checked with torch 2.15.0, transformers 5.23.0, peft 0.21.2, bitsandbytes 0.50.2.
#
#  1. adapters written by formats/adapter (test_adapter with QT_ADAPTER_WRITE_DIR) load in
#     PeftModel.from_pretrained with tensors identical to the PEFT-written originals, the same
#     per-module scaling, and identical logits;
#  2. transformers loads the directories lora-merge writes (f32 and bf16, from the f32 base and
#     from the NF4 base), and their logits equal PEFT's merged model's logits (f32: <= 1e-5
#     relative to the largest logit);
#  3. lora-merge --info's norms equal torch's ||B @ A||;
#  4. an adapter that lora-train writes (3 steps on tests/data/llama/tiny) loads in PEFT, and
#     PEFT's base+adapter logits equal transformers' logits on lora-merge's output.
# The engine side (our forward with a PEFT adapter = PEFT logits) is tests/kernels/
# test_llama_adapter.c, which runs in `make test`.
import os, subprocess, sys, tempfile
import torch
from transformers import LlamaForCausalLM
from peft import PeftModel

top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(top, "bin"))
BUILD = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(top, "build"))
data = os.path.join(top, "tests", "data", "lora")
failed = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failed.append(what)


def read_logits(fn):
    import struct
    b = open(fn, "rb").read()
    assert b[:8] == b"QTLOGIT1"
    n, V = struct.unpack("<II", b[8:16])
    off, out = 16, []
    for _ in range(n):
        (T,) = struct.unpack("<I", b[off:off + 4])
        off += 4
        ids = torch.frombuffer(bytearray(b[off:off + 4 * T]), dtype=torch.int32).long()
        off += 4 * T
        lg = torch.frombuffer(bytearray(b[off:off + 4 * T * V]), dtype=torch.float32).view(T, V)
        off += 4 * T * V
        out.append((ids, lg))
    return out


def base():
    return LlamaForCausalLM.from_pretrained(os.path.join(data, "base"), dtype=torch.float32).eval()


def lora_tensors(pm):
    return {k: v.detach().clone() for k, v in pm.state_dict().items() if "lora_" in k}


def scalings(pm):
    out = {}
    for n, m in pm.named_modules():
        if isinstance(getattr(m, "scaling", None), dict) and "default" in m.scaling:
            out[n] = m.scaling["default"]
    return out


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def check_written(tmp):
    env = dict(os.environ, QT_ADAPTER_WRITE_DIR=tmp, QT_TEST_SRCDIR=os.path.join(top, "tests"))
    r = subprocess.run([os.path.join(BUILD, "tests", "formats", "test_adapter")], env=env,
                       capture_output=True, text=True)
    check(r.returncode == 0, "test_adapter wrote adapters into %s" % tmp)
    prompts = read_logits(os.path.join(data, "peft-r8.logits.bin"))
    for name in ("r8", "rs", "p2"):
        orig = PeftModel.from_pretrained(base(), os.path.join(data, "peft-" + name)).eval()
        ours = PeftModel.from_pretrained(base(), os.path.join(tmp, "ours-" + name)).eval()
        to, tw = lora_tensors(orig), lora_tensors(ours)
        same = to.keys() == tw.keys() and all(torch.equal(to[k], tw[k]) for k in to)
        check(same, "peft-%s: PEFT loads our adapter with identical tensors (%d)" % (name, len(to)))
        check(scalings(orig) == scalings(ours), "peft-%s: identical per-module scaling" % name)
        with torch.no_grad():
            d = max((orig(ids[None]).logits - ours(ids[None]).logits).abs().max().item()
                    for ids, _ in prompts)
        check(d == 0, "peft-%s: identical logits through PEFT (max diff %g)" % (name, d))
        ob = PeftModel.from_pretrained(base(), os.path.join(tmp, "ours-%s-bf16" % name)).eval()
        tb = lora_tensors(ob)
        same = all(torch.equal(to[k].bfloat16().float(), tb[k].float()) for k in to)
        check(same, "peft-%s: our bf16 adapter = PEFT's tensors rounded to bf16" % name)


def check_merged(tmp):
    cases = [("r8", "base", ["peft-r8"], []), ("rs", "base", ["peft-rs"], []),
             ("r8-p2", "base", ["peft-r8", "peft-p2"], []),
             ("nf4-r8", "base-nf4", ["peft-r8"], [])]
    for case, b, ads, extra in cases:
        out = os.path.join(tmp, "merged-" + case)
        cmd = [os.path.join(BIN, "lora-merge"), "-q", "-m", os.path.join(data, b), "-o", out]
        for a in ads:
            cmd += ["-a", os.path.join(data, a)]
        r = subprocess.run(cmd + extra, capture_output=True, text=True)
        check(r.returncode == 0, "lora-merge %s %s" % (case, r.stderr.strip()))
        m = LlamaForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
        worst = 0.0
        for ids, ref in read_logits(os.path.join(data, "merged-%s.logits.bin" % case)):
            with torch.no_grad():
                worst = max(worst, rel(m(ids[None]).logits[0], ref))
        check(worst <= 1e-5, "%s: transformers on our merged dir vs PEFT merged logits: max rel %.3g"
              % (case, worst))
    # the merged model also equals base + adapter evaluated unmerged by PEFT
    m = LlamaForCausalLM.from_pretrained(os.path.join(tmp, "merged-r8"), dtype=torch.float32).eval()
    worst = 0.0
    for ids, ref in read_logits(os.path.join(data, "peft-r8.logits.bin")):
        with torch.no_grad():
            worst = max(worst, rel(m(ids[None]).logits[0], ref))
    check(worst <= 1e-5, "r8: our merged logits vs PEFT base+adapter (unmerged) logits: max rel %.3g"
          % worst)
    # bf16 output loads and stays close
    out = os.path.join(tmp, "merged-r8-bf16")
    subprocess.run([os.path.join(BIN, "lora-merge"), "-q", "--dtype", "bf16", "-m",
                    os.path.join(data, "base"), "-a", os.path.join(data, "peft-r8"), "-o", out],
                   check=True)
    m = LlamaForCausalLM.from_pretrained(out).eval()
    check(m.dtype == torch.bfloat16, "bf16 merged dir loads as bfloat16 (%s)" % m.dtype)
    worst = 0.0
    for ids, ref in read_logits(os.path.join(data, "merged-r8.logits.bin")):
        with torch.no_grad():
            worst = max(worst, rel(m.float()(ids[None]).logits[0], ref))
    check(worst <= 3e-2, "r8 bf16 merged weights, f32 forward vs PEFT f32 logits: max rel %.3g" % worst)


def check_info():
    r = subprocess.run([os.path.join(BIN, "lora-merge"), "--info", os.path.join(data, "peft-p2")],
                       capture_output=True, text=True, check=True)
    rows = [l.split("\t") for l in r.stdout.splitlines() if l[:1].isdigit()]
    pm = PeftModel.from_pretrained(base(), os.path.join(data, "peft-p2"))
    worst = 0.0
    n = 0
    for l, mod, rr, alpha, sc, nba, nd in rows:
        if mod == "all":
            continue
        blk = "self_attn" if mod in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
        lin = getattr(getattr(pm.base_model.model.model.layers[int(l)], blk), mod)
        ba = (lin.lora_B["default"].weight.double() @ lin.lora_A["default"].weight.double()).norm()
        worst = max(worst, abs(float(nba) - ba.item()) / ba.item())
        worst = max(worst, abs(float(sc) - lin.scaling["default"]) / lin.scaling["default"])
        n += 1
    check(n == 10 and worst < 1e-5, "--info: %d module norms and scalings vs torch, max rel %.3g"
          % (n, worst))


def check_trained(tmp):
    tiny = os.path.join(top, "tests", "data", "llama", "tiny")
    run = os.path.join(tmp, "run")
    r = subprocess.run([os.path.join(BIN, "lora-train"), "--quiet", "-m", tiny, "--train",
                        os.path.join(top, "tests", "data", "lora_train", "train.pack"), "-o", run,
                        "--max-steps", "3", "--rank", "4", "--alpha", "8", "--lr", "1e-2"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "lora-train 3 steps %s" % r.stderr.strip())
    out = os.path.join(tmp, "trained-merged")
    r = subprocess.run([os.path.join(BIN, "lora-merge"), "-q", "-m", tiny, "-a",
                        os.path.join(run, "adapter"), "-o", out], capture_output=True, text=True)
    check(r.returncode == 0, "lora-merge of the trained adapter %s" % r.stderr.strip())
    p = PeftModel.from_pretrained(LlamaForCausalLM.from_pretrained(tiny, dtype=torch.float32),
                                  os.path.join(run, "adapter")).eval()
    nz = sum(v.abs().sum().item() for k, v in lora_tensors(p).items() if "lora_B" in k)
    m = LlamaForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    ids = torch.randint(0, 512, (1, 24), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        e = rel(m(ids).logits, p(ids).logits)
    check(nz > 0 and e <= 1e-5, "lora-train adapter: PEFT base+adapter vs transformers on "
          "lora-merge output: max rel %.3g (sum |B| %.3g)" % (e, nz))


with tempfile.TemporaryDirectory() as tmp:
    check_written(tmp)
    check_merged(tmp)
    check_info()
    check_trained(tmp)
print("%d failed" % len(failed))
sys.exit(1 if failed else 0)
