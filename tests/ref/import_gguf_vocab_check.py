#!/usr/bin/env python3
# qlora-tools: ISC license.
"""import-gguf's tokenizer rebuild against llama.cpp's own vocab tests (issue 15): for each
byte-level vocabulary GGUF that llama.cpp ships with test strings (models/ggml-vocab-NAME.gguf,
.gguf.inp, .gguf.out in the llama-cpp-python 0.3.36 source distribution), `import-gguf
--tokenizer-only` rebuilds tokenizer.json, then tok-chatml --format text encodes every .inp
string with it (our C tokenizer; the eos it appends is dropped) and the ids are compared with
llama.cpp's .out. The GGUFs are 1-11 MB, not committed: this is the check, run by hand.

Run from the repository root after make:
    /work/venv-ref/bin/python tests/ref/import_gguf_vocab_check.py SDIST/vendor/llama.cpp/models
Result (llama-cpp-python 0.3.36): starcoder, refact, command-r, mpt, gpt-2, llama-bpe, qwen2:
deepseek-llm, deepseek-coder: 46/46 strings identical each (also with HF tokenizers on the
rebuilt tokenizer.json); falcon 46/46 (both); qwen35 50/50. Every vocabulary there with
test strings and a byte-level model is now rebuilt.
"""
import json
import os
import subprocess
import sys
import tempfile

NAMES = ["starcoder", "refact", "command-r", "mpt", "gpt-2", "llama-bpe", "qwen2", "falcon",
         "deepseek-llm", "deepseek-coder", "qwen35"]
SEP = "\n__ggml_vocab_test__\n"


def main():
    models = sys.argv[1]
    bad = 0
    for name in NAMES:
        gg = os.path.join(models, "ggml-vocab-%s.gguf" % name)
        d = tempfile.mkdtemp()
        r = subprocess.run(["bin/import-gguf", "-q", "--tokenizer-only", "-o", d + "/o", gg],
                           capture_output=True, text=True)
        if r.returncode:
            print("%s: refused: %s" % (name, r.stderr.strip().split(": ", 2)[-1][:80]))
            continue
        with open(gg + ".inp", encoding="utf-8") as f:
            inp = f.read().split(SEP)
        if inp[-1] == "":
            inp.pop()
        with open(gg + ".out") as f:
            out = f.read().split("\n")
        ok = 0
        for i, s in enumerate(inp):
            want = [int(x) for x in out[i].split()]
            if s == "":
                ok += want == []
                continue
            with open(d + "/in.jsonl", "w", encoding="utf-8") as f:
                f.write(json.dumps(s) + "\n")
            subprocess.run(["bin/tok-chatml", "-q", "--format", "text", "-t", d + "/o", "-o",
                            d + "/x.tok", d + "/in.jsonl"], check=True)
            line = subprocess.run(["bin/tok-cat", d + "/x.tok"], capture_output=True,
                                  text=True, check=True).stdout.split("\n")[0]
            ok += json.loads(line)["ids"][:-1] == want
        bad += ok != len(inp)
        print("%s: %d/%d strings identical to llama.cpp" % (name, ok, len(inp)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
