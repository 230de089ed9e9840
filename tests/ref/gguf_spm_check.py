#!/usr/bin/env python3
# qlora-tools: ISC license.
"""import-gguf on SentencePiece GGUFs against transformers (issue 15): for each of llama.cpp's
ggml-vocab-llama-spm.gguf (architecture llama) and ggml-vocab-phi-3.gguf (phi3, the
Prepend/Replace shape), the tokenizer.json that `import-gguf --tokenizer-only` writes must
equal, byte for byte (compact JSON, plus a final newline), the one transformers builds from the
same file (AutoTokenizer.from_pretrained(gguf_file=...).backend_tokenizer). The llama-spm case
is also a CLI test (tests/cli/import-gguf/sentencepiece.sh, with the GGUF committed); the phi-3
GGUF is not committed, so this script is its check.

Run from the repository root after make:
    /work/venv-ref/bin/python tests/ref/gguf_spm_check.py SDIST/vendor/llama.cpp/models
Checked with transformers 5.25.0 and tokenizers 0.23.3: both identical.
"""
import json
import os
import subprocess
import sys
import tempfile

from transformers import AutoTokenizer


def main():
    models = sys.argv[1]
    bad = 0
    for name in ("llama-spm", "phi-3"):
        fn = "ggml-vocab-%s.gguf" % name
        tok = AutoTokenizer.from_pretrained(models, gguf_file=fn)
        want = json.dumps(json.loads(tok.backend_tokenizer.to_str()), ensure_ascii=False,
                          separators=(",", ":")) + "\n"
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["bin/import-gguf", "-q", "--tokenizer-only", "-o", d + "/o",
                            os.path.join(models, fn)], check=True)
            with open(d + "/o/tokenizer.json", encoding="utf-8") as f:
                got = f.read()
        same = got == want
        bad += not same
        print("%s: import-gguf's tokenizer.json %s transformers'" %
              (name, "identical to" if same else "DIFFERS from"))
    return bad


if __name__ == "__main__":
    sys.exit(main())
