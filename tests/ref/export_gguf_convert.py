#!/usr/bin/env python3
# qlora-tools: ISC license.
"""llama.cpp's own converter, convert_hf_to_gguf.py, as the reference for export-gguf's
metadata, tensor names, Q/K permutation and the f32/f16/bf16/q8_0 types (q8_0 is gguf-py's
quantizer there; the other quantized types are checked against llama_model_quantize by
tests/ref/export_gguf_llamacpp.py).

The converter is the one vendored in llama-cpp-python 0.3.36's sdist (vendor/llama.cpp: the
script, its conversion/ package and gguf-py), run with the shared reference venv:
    pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 && tar xzf llama_cpp_python-0.3.36.tar.gz
    LLAMACPP_SRC=llama_cpp_python-0.3.36/vendor/llama.cpp \\
        /work/venv-ref/bin/python tests/ref/export_gguf_convert.py
(from the repository root). Committed output made with torch 2.15.0, transformers 5.23.0,
xxhash 3.x and that converter.

Writes tests/data/export/tiny.convert.txt: for each --outtype in f32 f16 bf16 q8_0, the
converter's output for tests/data/export/tiny, one line per tensor
"type T name ggml_type bytes xxh3" and one per key "type K key xxh3" (XXH3-64 of the pair's
whole encoding: key, value type, value), general.* naming keys (name, basename, finetune,
size_label) left out. tests/jobs/test_export_gguf.c checks export-gguf's files against it.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import xxhash

SRC = os.environ["LLAMACPP_SRC"]
sys.path.insert(0, os.path.join(SRC, "gguf-py"))
from gguf import GGUFReader  # noqa: E402

ROOT = os.getcwd()
DATA = os.path.join(ROOT, "tests", "data", "export")
SKIP = {"general.name", "general.basename", "general.finetune", "general.size_label"}


def value(f):
    return xxhash.xxh3_64_hexdigest(b"".join(np.ascontiguousarray(p).tobytes() for p in f.parts))


# convert_hf_to_gguf.py names the pre-tokenizer by hashing the ids of a probe text; the tiny
# model's 320-token vocabulary has no entry in its table, so the converter runs with that one
# function answering "smollm" (the tokenizer is SmolLM2's pre-tokenizer, Digits + ByteLevel,
# which is what export-gguf reads from tokenizer.json). Everything else is the converter's.
RUN = """
import runpy, sys
sys.path.insert(0, {src!r})
sys.argv = [{script!r}] + {args!r}
import conversion.base
conversion.base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "smollm"
runpy.run_path({script!r}, run_name="__main__")
"""


def main():
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for t in ("f32", "f16", "bf16", "q8_0"):
            out = os.path.join(tmp, f"tiny-{t}.gguf")
            script = os.path.join(SRC, "convert_hf_to_gguf.py")
            code = RUN.format(src=SRC, script=script,
                              args=["--outtype", t, "--outfile", out, os.path.join(DATA, "tiny")])
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            r = GGUFReader(out)
            for tn in r.tensors:
                b = np.ascontiguousarray(tn.data).tobytes()
                lines.append(f"{t} T {tn.name} {tn.tensor_type.name} {tn.n_bytes} {xxhash.xxh3_64_hexdigest(b)}\n")
            for k, f in r.fields.items():
                if k.startswith("GGUF.") or k in SKIP:
                    continue
                lines.append(f"{t} K {k} {value(f)}\n")
    with open(os.path.join(DATA, "tiny.convert.txt"), "w") as fh:
        fh.writelines(lines)
    smollm2()


def smollm2():
    """The default model, unpatched converter (its hash table knows SmolLM2), f32: every tensor
    and every key but the general.* naming keys compared with bin/export-gguf's, printed."""
    model = os.environ.get("QT_MODEL_DIR", os.path.join(ROOT, "models", "SmolLM2-135M-Instruct"))
    if not os.path.isdir(model):
        return
    with tempfile.TemporaryDirectory() as tmp:
        theirs, ours = os.path.join(tmp, "theirs.gguf"), os.path.join(tmp, "ours.gguf")
        subprocess.run([sys.executable, os.path.join(SRC, "convert_hf_to_gguf.py"), "--outtype", "f32",
                        "--outfile", theirs, model], check=True, capture_output=True)
        subprocess.run([os.path.join(ROOT, "bin", "export-gguf"), "-q", "--type", "f32", "-o", ours,
                        model], check=True)
        a, b = GGUFReader(theirs), GGUFReader(ours)
        tb = {t.name: t for t in b.tensors}
        same = sum(1 for t in a.tensors if t.name in tb and t.tensor_type == tb[t.name].tensor_type
                   and np.array_equal(np.asarray(t.data), np.asarray(tb[t.name].data)))
        ka = {k: value(f) for k, f in a.fields.items() if not k.startswith("GGUF.") and k not in SKIP}
        kb = {k: value(f) for k, f in b.fields.items() if not k.startswith("GGUF.") and k not in SKIP}
        print(f"SmolLM2 f32: {same} of {len(a.tensors)} tensors identical to convert_hf_to_gguf.py's "
              f"({len(b.tensors)} written); keys: {sum(ka[k] == kb.get(k) for k in ka)} of {len(ka)} "
              f"identical, ours only: {sorted(set(kb) - set(ka))}, theirs only: {sorted(set(ka) - set(kb))}")


if __name__ == "__main__":
    sys.exit(main())
