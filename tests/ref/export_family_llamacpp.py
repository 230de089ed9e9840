#!/usr/bin/env python3
# qlora-tools: ISC license.
"""llama.cpp on export-gguf's F32 GGUF of each family's tiny model (issue 19): the logits and
greedy ids it computes, for tests/jobs/test_export_gguf_family.c to hold our engine to.

llama.cpp comes from PyPI's llama-cpp-python 0.3.36, built from source (see
tests/ref/export_gguf_llamacpp.py). Run from the repository root after `make` (bin/export-gguf):
    /work/venv-llama/bin/python tests/ref/export_family_llamacpp.py
The models are tests/data/export/family/NAME (tests/ref/export_family_models.py). Each is
exported from a link named "tiny" (general.name "tiny": llama.cpp gives a vocabulary whose model
name contains "phi3" Phi-3's special tokens and fails on the tiny tokenizer without them).

llama.cpp runs as in export_gguf_llamacpp.py: F32 KV cache, no flash attention, all logits.
Writes, per family NAME, tests/data/export/family/:
  NAME.llamacpp.logits.bin  QTLOGSL1 (tests/jobs/logits_golden.h) with every id as a fixed id
                            (S = V) and the top 8: llama.cpp's logits for each prompt of
                            PROMPTS (lengths 4, 13 and 29, past gemma2's window of 6), each
                            prompt evaluated alone from an empty cache
  NAME.llamacpp.greedy.txt  per prompt one line: the 24 ids llama.cpp's greedy decoding adds
                            (argmax of each new position, eos not special), token by token
                            through its cache
  NAME.llamacpp-lora.{logits.bin,greedy.txt}
                            the same with export-gguf's LoRA GGUF of NAME-lora (a PEFT adapter,
                            tests/ref/export_family_models.py --lora) applied by llama.cpp
                            (lora_path)
  NAME.llamacpp-f32gelu.{logits.bin,greedy.txt}, NAME.llamacpp-lora-f32gelu.*
                            gemma and gemma2 only, with --f32-gelu: the same from a llama.cpp
                            whose CPU GELU is computed in float32. Stock llama.cpp looks GELU
                            up in a table of half-precision values (ggml-cpu/vec.h defines
                            GGML_GELU_FP16), which moves gemma's logits by 1e-4..5e-4 of the
                            row's max; this run shows the rest of the computation agrees as
                            closely as the other families'. Build it from the sdist's
                            vendor/llama.cpp: delete the line "#define GGML_GELU_FP16" in
                            ggml/src/ggml-cpu/vec.h, then
                              cmake -S . -B b -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=ON
                              cmake --build b --target ggml-cpu
                            copy llama_cpp/lib of the venv to LIB, b/bin/libggml-cpu.so* over
                            it, and run this script with --f32-gelu and
                            LLAMA_CPP_LIB_PATH=LIB LD_LIBRARY_PATH=LIB.
  gguf-reader.txt           for each family's file at each --type (f32 and every quantized type),
                            the line tests/jobs/gguf_reader_golden.h reads: what gguf-py's
                            GGUFReader read, the file's size and XXH3-64. A quantized type is
                            recorded only after every tensor of `export-gguf --type` was found
                            byte-identical to llama_model_quantize's from our F32 file (the
                            script stops otherwise), so the hashes carry that identity and the
                            F32 hash ties the logits above to the file export-gguf writes now.
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import xxhash
from gguf import GGUFReader

import llama_cpp

ROOT = os.getcwd()
DATA = os.path.join(ROOT, "tests", "data", "export", "family")
BIN = os.path.join(ROOT, "bin")
FAMILIES = ["qwen2", "qwen3", "gemma", "gemma2", "phi3", "glm", "glm4"]
FTYPES = {"f16": 1, "bf16": 32, "q8_0": 7, "q4_0": 2, "q4_k_m": 15, "q5_k_m": 17, "q6_k": 18}
MAX_NEW = 24
TOP_K = 8
LLAMA_OPTS = dict(n_ctx=256, n_threads=2, logits_all=True, verbose=False, type_k=0, type_v=0,
                  flash_attn=False)
rng = np.random.RandomState(19)
PROMPTS = [rng.randint(3, 320, size=n).tolist() for n in (4, 13, 29)]


def export(src, args, out):
    subprocess.run([os.path.join(BIN, "export-gguf"), "-q"] + args + ["-o", out] +
                   ([src] if src else []), check=True)
    return out


def logits_file(llm, V, path):
    with open(path, "wb") as f:
        f.write(b"QTLOGSL1" + struct.pack("<IIII", len(PROMPTS), V, V, TOP_K))
        f.write(np.arange(V, dtype="<u4").tobytes())
        for ids in PROMPTS:
            llm.reset()
            llm.eval(ids)
            lg = np.array(llm.scores[: len(ids)], dtype=np.float32)
            f.write(struct.pack("<I", len(ids)))
            f.write(np.array(ids, "<u4").tobytes())
            for row in lg:
                top = np.argsort(-row, kind="stable")[:TOP_K]
                f.write(struct.pack("<f", float(np.abs(row).max())))
                for i in top:
                    f.write(struct.pack("<If", int(i), float(row[i])))
                f.write(row.astype("<f4").tobytes())


def greedy(llm):
    out = []
    for ids in PROMPTS:
        llm.reset()
        llm.eval(ids)
        new = []
        for _ in range(MAX_NEW):
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            new.append(nxt)
            llm.eval([nxt])
        out.append(" ".join(map(str, new)) + "\n")
    return out


def reader_line(path, label):
    r = GGUFReader(path)
    gt = r.fields["general.type"].contents() if "general.type" in r.fields else "-"
    with open(path, "rb") as f:
        h = xxhash.xxh3_64_hexdigest(f.read())
    return (f"{label} tensors {len(r.tensors)} kv {len(r.fields)} general.type {gt} "
            f"bytes {os.path.getsize(path)} xxh3 {h}\n")


def quant_check(name, src, f32, tmp, reader):
    for tn, ft in FTYPES.items():
        theirs = os.path.join(tmp, f"{name}-{tn}-llamacpp.gguf")
        p = llama_cpp.llama_model_quantize_default_params()
        p.ftype = ft
        p.nthread = 1
        assert llama_cpp.llama_model_quantize(f32.encode(), theirs.encode(), p) == 0, (name, tn)
        ours = export(src, ["--type", tn], os.path.join(tmp, f"{name}-{tn}.gguf"))
        t = {x.name: (x.tensor_type, np.ascontiguousarray(x.data).tobytes())
             for x in GGUFReader(theirs).tensors}
        mine = GGUFReader(ours).tensors
        same = sum(t.get(x.name) == (x.tensor_type, np.ascontiguousarray(x.data).tobytes())
                   for x in mine)
        print(f"{name} {tn}: {same} of {len(mine)} tensors byte-identical to "
              f"llama_model_quantize's ({len(t)} in its file)")
        assert same == len(mine) == len(t), (name, tn)
        reader.append(reader_line(ours, f"{name} {tn}"))


def goldens(f32, lora, name, suffix):
    """llama.cpp's logits and greedy ids on f32 (with the LoRA GGUF lora when given)."""
    opts = dict(LLAMA_OPTS, lora_path=lora) if lora else LLAMA_OPTS
    llm = llama_cpp.Llama(model_path=f32, **opts)
    logits_file(llm, llm.n_vocab(), os.path.join(DATA, f"{name}.{suffix}.logits.bin"))
    with open(os.path.join(DATA, f"{name}.{suffix}.greedy.txt"), "w") as f:
        f.writelines(greedy(llm))
    del llm
    print(f"{name}: wrote {name}.{suffix}.logits.bin and {name}.{suffix}.greedy.txt")


def f32_gelu():
    with tempfile.TemporaryDirectory() as tmp:
        for name in ["gemma", "gemma2"]:
            src = os.path.join(tmp, name, "tiny")
            os.makedirs(os.path.dirname(src))
            os.symlink(os.path.join(DATA, name), src)
            f32 = export(src, ["--type", "f32"], os.path.join(tmp, f"{name}.gguf"))
            lora = export(None, ["--adapter", os.path.join(DATA, f"{name}-lora"), "-m", src],
                          os.path.join(tmp, f"{name}-lora.gguf"))
            goldens(f32, None, name, "llamacpp-f32gelu")
            goldens(f32, lora, name, "llamacpp-lora-f32gelu")


def main():
    if sys.argv[1:] == ["--f32-gelu"]:
        return f32_gelu()
    names = FAMILIES
    reader = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            src = os.path.join(tmp, name, "tiny")
            os.makedirs(os.path.dirname(src))
            os.symlink(os.path.join(DATA, name), src)
            f32 = export(src, ["--type", "f32"], os.path.join(tmp, f"{name}.gguf"))
            reader.append(reader_line(f32, f"{name} f32"))
            goldens(f32, None, name, "llamacpp")
            lora = export(None, ["--adapter", os.path.join(DATA, f"{name}-lora"), "-m", src],
                          os.path.join(tmp, f"{name}-lora.gguf"))
            reader.append(reader_line(lora, f"{name}-lora f32"))
            goldens(f32, lora, name, "llamacpp-lora")
            quant_check(name, src, f32, tmp, reader)
    with open(os.path.join(DATA, "gguf-reader.txt"), "w") as f:
        f.writelines(reader)


if __name__ == "__main__":
    sys.exit(main())
