#!/usr/bin/env python3
# qlora-tools: ISC license.
"""llama.cpp as the reference for export-gguf (issue 19): its quantizer, its forward pass and
its LoRA loader run on the files bin/export-gguf writes, and gguf-py's reader reads them all.

llama.cpp comes from PyPI's llama-cpp-python, built from source (vendored llama.cpp):
    python3 -m venv /work/venv-llama
    CMAKE_ARGS="-DGGML_NATIVE=OFF" /work/venv-llama/bin/pip install llama-cpp-python gguf numpy xxhash
Run from the repository root after `make` (bin/export-gguf, bin/gen) with the default model:
    /work/venv-llama/bin/python tests/ref/export_gguf_llamacpp.py
Committed output produced with llama-cpp-python 0.3.36, gguf 0.19.0, xxhash 3.x.

Writes (tests/data/export/):
  tiny.quant.txt   for each --type of export-gguf except f32, llama_model_quantize (ftype of
                   that name, no imatrix, 1 thread) of `export-gguf --type f32` of
                   tests/data/export/tiny: one line per tensor "type name ggml_type bytes xxh3"
                   (XXH3-64 of the tensor's bytes, hex). tests/jobs/test_export_gguf.c checks
                   that export-gguf --type writes the same types and bytes.
  llamacpp-smollm2.logits.bin
                   llama.cpp's logits on our F32 GGUF of the default model, for the prompts of
                   tests/data/llama_smollm2/logits.bin, in its QTLOGSL1 format with fewer slices
                   (the top 8 and every 4th of its fixed ids, to keep the file small).
                   tests/jobs/test_export_gguf_llamacpp.c compares our engine with it.
  llamacpp-greedy-ids.txt
                   llama.cpp's greedy continuation (24 new tokens, eos excluded) of each prompt
                   of tests/data/gen/greedy-prompts.jsonl on our F32 GGUF, the prompt rendered
                   with the GGUF's tokenizer.chat_template (jinja2) and tokenized by llama.cpp.
                   tests/jobs/test_export_gguf.c: equal to transformers' (tests/data/gen).
  llamacpp-lora-greedy-ids.txt
                   the same with our LoRA GGUF of tests/data/export/smollm2-lora applied
                   (llama.cpp's lora_path); tests/jobs/test_export_gguf_llamacpp.c runs gen
                   --adapter on the same prompts and compares. The script prints how many
                   prompts `bin/gen --adapter` already matches.
  gguf-reader.txt  for every file written here (each --type of both models and the adapters):
                   what gguf-py's GGUFReader read (tensor count, kv count, general.type) and
                   the file's size and XXH3-64. tests/jobs/test_export_gguf{,_llamacpp}.c
                   write the same files and check that they are these very bytes and that our
                   reader counts the same. The default model's files at each --type but f32
                   are written only after the script has found every tensor (type and bytes)
                   identical to llama_model_quantize's from our F32 file (it stops otherwise),
                   so those hashes carry the byte-identity to the default model too.

llama.cpp runs with an F32 KV cache (type_k = type_v = GGML_TYPE_F32) and flash attention off,
one context per run: its default F16 KV cache rounds K and V to half precision (max relative
logit error 1.1e-3 against transformers on these prompts, measured with 0.3.36), and its CPU
flash attention also computes in half precision (1.7e-3 with the F32 cache). With F32 weights,
an F32 cache and no flash attention its matmuls are F32 throughout (4.2e-6 against
transformers).
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import jinja2
import numpy as np
import xxhash
from gguf import GGUFReader

import llama_cpp

ROOT = os.getcwd()
DATA = os.path.join(ROOT, "tests", "data", "export")
BIN = os.path.join(ROOT, "bin")
MODEL = os.environ.get("QT_MODEL_DIR", os.path.join(ROOT, "models", "SmolLM2-135M-Instruct"))
FTYPES = {"f16": 1, "bf16": 32, "q8_0": 7, "q4_0": 2, "q4_k_m": 15, "q5_k_m": 17, "q6_k": 18}
MAX_NEW = 24
EOS = 2  # <|im_end|>
# F32 KV cache (GGML_TYPE_F32 = 0) and no flash attention: see the docstring.
LLAMA_OPTS = dict(n_ctx=512, n_threads=2, logits_all=True, verbose=False, type_k=0, type_v=0,
                  flash_attn=False)
TOP_K, SUB_STEP = 8, 4  # slices of the llama.cpp logits golden


def export(args, out):
    subprocess.run([os.path.join(BIN, "export-gguf"), "-q"] + args + ["-o", out], check=True)
    return out


def file_xxh3(path):
    h = xxhash.xxh3_64()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def reader_line(path, label):
    r = GGUFReader(path)
    gt = r.fields["general.type"].contents() if "general.type" in r.fields else "-"
    return (f"{label} tensors {len(r.tensors)} kv {len(r.fields)} general.type {gt} "
            f"bytes {os.path.getsize(path)} xxh3 {file_xxh3(path)}\n")


def quant_goldens(tmp, reader):
    f32 = export(["--type", "f32", os.path.join(DATA, "tiny")], os.path.join(tmp, "tiny-f32.gguf"))
    reader.append(reader_line(f32, "tiny f32"))
    lines = []
    for name, ft in FTYPES.items():
        out = os.path.join(tmp, f"tiny-{name}.gguf")
        p = llama_cpp.llama_model_quantize_default_params()
        p.ftype = ft
        p.nthread = 1
        rc = llama_cpp.llama_model_quantize(f32.encode(), out.encode(), p)
        assert rc == 0, (name, rc)
        for t in GGUFReader(out).tensors:
            b = np.ascontiguousarray(t.data).tobytes()
            assert len(b) == t.n_bytes, (t.name, len(b), t.n_bytes)
            lines.append(f"{name} {t.name} {t.tensor_type.name} {t.n_bytes} "
                         f"{xxhash.xxh3_64_hexdigest(b)}\n")
        ours = export(["--type", name, os.path.join(DATA, "tiny")], os.path.join(tmp, f"ours-{name}.gguf"))
        reader.append(reader_line(ours, f"tiny {name}"))
        theirs = {t.name: (t.tensor_type, np.ascontiguousarray(t.data).tobytes()) for t in GGUFReader(out).tensors}
        for t in GGUFReader(ours).tensors:
            ty, b = theirs[t.name]
            same = ty == t.tensor_type and b == np.ascontiguousarray(t.data).tobytes()
            print(f"{name} {t.name}: {t.tensor_type.name} {'identical' if same else 'DIFFERS'}")
    with open(os.path.join(DATA, "tiny.quant.txt"), "w") as f:
        f.writelines(lines)


def same_as_quantizer(f32, ftype, ours, theirs):
    """llama_model_quantize (2 threads) of f32 to theirs: (tensors of ours, how many have the
    type and bytes of theirs)."""
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = 2
    assert llama_cpp.llama_model_quantize(f32.encode(), theirs.encode(), p) == 0
    t = {x.name: (x.tensor_type, np.ascontiguousarray(x.data).tobytes()) for x in GGUFReader(theirs).tensors}
    mine = GGUFReader(ours).tensors
    same = sum(t.get(x.name) == (x.tensor_type, np.ascontiguousarray(x.data).tobytes()) for x in mine)
    os.remove(theirs)
    return len(mine), same


def read_slices(path):
    with open(path, "rb") as f:
        d = f.read()
    n, V, S, K = struct.unpack_from("<IIII", d, 8)
    off = 24
    sub = np.frombuffer(d, "<u4", S, off)
    off += 4 * S
    prompts = []
    for _ in range(n):
        (T,) = struct.unpack_from("<I", d, off)
        off += 4
        prompts.append(np.frombuffer(d, "<u4", T, off).tolist())
        off += 4 * T + T * (4 + 8 * K + 4 * S)
    return V, sub, K, prompts


def transformers_rows(path):
    """Per prompt, per position of a QTLOGSL1 file: (max |logit|, {id: logit}) of its slices."""
    with open(path, "rb") as f:
        d = f.read()
    n, V, S, K = struct.unpack_from("<IIII", d, 8)
    off = 24
    sub = np.frombuffer(d, "<u4", S, off)
    off += 4 * S
    out = []
    for _ in range(n):
        (T,) = struct.unpack_from("<I", d, off)
        off += 4 + 4 * T
        rows = []
        for _ in range(T):
            (mx,) = struct.unpack_from("<f", d, off)
            vals = dict(struct.unpack_from("<If", d, off + 4 + 8 * k) for k in range(K))
            vals.update(zip(sub.tolist(), np.frombuffer(d, "<f4", S, off + 4 + 8 * K).tolist()))
            rows.append((mx, vals))
            off += 4 + 8 * K + 4 * S
        out.append(rows)
    return out


def logits_golden(llm):
    hf = os.path.join(ROOT, "tests", "data", "llama_smollm2", "logits.bin")
    V, sub, _, prompts = read_slices(hf)
    ref = transformers_rows(hf)
    sub, K = sub[::SUB_STEP], TOP_K
    worst_abs = worst_rel = 0.0
    with open(os.path.join(DATA, "llamacpp-smollm2.logits.bin"), "wb") as f:
        f.write(b"QTLOGSL1" + struct.pack("<IIII", len(prompts), V, len(sub), K))
        f.write(sub.astype("<u4").tobytes())
        for ids, hf_rows in zip(prompts, ref):
            llm.reset()
            llm.eval(ids)
            lg = np.array(llm.scores[: len(ids)], dtype=np.float32)
            num = den = 0.0
            for row, (mx, vals) in zip(lg, hf_rows):
                den = max(den, mx)
                num = max(num, max(abs(float(row[i]) - v) for i, v in vals.items()))
            worst_abs, worst_rel = max(worst_abs, num), max(worst_rel, num / den)
            f.write(struct.pack("<I", len(ids)))
            f.write(np.array(ids, "<u4").tobytes())
            for row in lg:
                top = np.argsort(-row, kind="stable")[:K]
                f.write(struct.pack("<f", float(np.abs(row).max())))
                for i in top:
                    f.write(struct.pack("<If", int(i), float(row[i])))
                f.write(row[sub].astype("<f4").tobytes())
    print(f"llama.cpp logits vs transformers (all slices of {os.path.relpath(hf, ROOT)}): "
          f"max abs {worst_abs:.3g}, max rel {worst_rel:.3g} (of the row's max |logit|)")


def greedy(llm, template):
    out = []
    env = jinja2.Environment()
    t = env.from_string(template)
    with open(os.path.join(ROOT, "tests", "data", "gen", "greedy-prompts.jsonl")) as f:
        for line in f:
            text = t.render(messages=json.loads(line)["messages"], add_generation_prompt=True)
            ids = llm.tokenize(text.encode(), add_bos=False, special=True)
            llm.reset()
            llm.eval(ids)
            new = []
            for _ in range(MAX_NEW):
                nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
                if nxt == EOS:
                    break
                new.append(nxt)
                llm.eval([nxt])
            out.append(" ".join(map(str, new)) + "\n")
    return out


def gen_ids(adapter):
    r = subprocess.run([os.path.join(BIN, "gen"), "-q", "-m", MODEL, "--adapter", adapter, "--greedy",
                        "--max-new-tokens", str(MAX_NEW), "--ids",
                        os.path.join(ROOT, "tests", "data", "gen", "greedy-prompts.jsonl")],
                       check=True, capture_output=True, text=True)
    return [" ".join(map(str, json.loads(l)["predict_ids"])) + "\n" for l in r.stdout.splitlines()]


def main():
    reader = []
    with tempfile.TemporaryDirectory() as tmp:
        quant_goldens(tmp, reader)
        f32 = export(["--type", "f32", MODEL], os.path.join(tmp, "smol-f32.gguf"))
        reader.append(reader_line(f32, "smollm2 f32"))
        for name, ft in FTYPES.items():
            ours = export(["--type", name, MODEL], os.path.join(tmp, f"s-{name}.gguf"))
            n, same = same_as_quantizer(f32, ft, ours, os.path.join(tmp, "theirs.gguf"))
            print(f"smollm2 {name}: {same} of {n} tensors byte-identical to llama_model_quantize's")
            assert same == n, name
            reader.append(reader_line(ours, f"smollm2 {name}"))
        lora = export(["--adapter", os.path.join(DATA, "smollm2-lora"), "-m", MODEL],
                      os.path.join(tmp, "smol-lora.gguf"))
        reader.append(reader_line(lora, "smollm2-lora f32"))
        tl = export(["--adapter", os.path.join(DATA, "tiny-lora"), "-m", os.path.join(DATA, "tiny")],
                    os.path.join(tmp, "tiny-lora.gguf"))
        reader.append(reader_line(tl, "tiny-lora f32"))
        template = GGUFReader(f32).fields["tokenizer.chat_template"].contents()
        llm = llama_cpp.Llama(model_path=f32, **LLAMA_OPTS)
        logits_golden(llm)
        base = greedy(llm, template)
        with open(os.path.join(DATA, "llamacpp-greedy-ids.txt"), "w") as f:
            f.writelines(base)
        with open(os.path.join(ROOT, "tests", "data", "gen", "greedy-ids.txt")) as f:
            hf = f.readlines()
        print("llama.cpp greedy vs transformers greedy (= gen):",
              sum(a == b for a, b in zip(base, hf)), "of", len(hf), "prompts identical")
        del llm
        llm = llama_cpp.Llama(model_path=f32, lora_path=lora, **LLAMA_OPTS)
        ad = greedy(llm, template)
        with open(os.path.join(DATA, "llamacpp-lora-greedy-ids.txt"), "w") as f:
            f.writelines(ad)
        ours = gen_ids(os.path.join(DATA, "smollm2-lora"))
        same = sum(a == b for a, b in zip(ad, ours))
        print("llama.cpp + LoRA GGUF greedy vs gen --adapter:", same, "of", len(ours), "identical;",
              sum(a != b for a, b in zip(ad, base)), "prompts changed by the adapter")
    with open(os.path.join(DATA, "gguf-reader.txt"), "w") as f:
        f.writelines(reader)


if __name__ == "__main__":
    sys.exit(main())
