#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Expected output of tests/cli/tok-chatml/unigram.sh (issue 15): tok-chatml --format text with
an HF Unigram tokenizer.json (tests/data/tokenizer/unigram/tokenizer.json, the t5 shape of
tests/ref/tokenizer_unigram.py: Precompiled nmt_nfkc, Strip, Replace, Metaspace), then tok-cat
and tok-cat --text. Ids: HF tokenizers' encode(text, add_special_tokens=False) plus the eos
</s> that --format text appends; text: decode(ids, skip_special_tokens=False).

Run from the repository root: /work/venv-ref/bin/python tests/ref/tok_unigram_cli.py
Writes tests/data/tokenizer/unigram/cli.jsonl and tests/cli/tok-chatml/unigram.sh.stdout.exact.
Committed output produced with tokenizers 0.23.3.
"""
import json
import os

import tokenizers
from tokenizers import Tokenizer

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
STRINGS = ["Hello world", "  two  spaces  ", "Café déjà vu", "ＡＢＣ　ｆｕｌｌ ﬁne ①", "日本語と中文",
           "tab\tand\nnewline", "x" * 40, "it's 3.14 < 4"]


def main():
    tk = Tokenizer.from_file(os.path.join(TOP, "data", "tokenizer", "unigram", "tokenizer.json"))
    eos = tk.token_to_id("</s>")
    with open(os.path.join(TOP, "data", "tokenizer", "unigram", "cli.jsonl"), "w",
              encoding="utf-8") as f:
        for s in STRINGS:
            f.write(json.dumps({"text": s}, ensure_ascii=False) + "\n")
    ids = [tk.encode(s, add_special_tokens=False).ids + [eos] for s in STRINGS]
    with open(os.path.join(TOP, "cli", "tok-chatml", "unigram.sh.stdout.exact"), "w",
              encoding="utf-8") as f:
        for x in ids:
            f.write(json.dumps({"ids": x, "mask": [1] * len(x)}, separators=(",", ":")) + "\n")
        for x in ids:
            f.write(tk.decode(x, skip_special_tokens=False) + "\n")
    print("%d strings, %d ids (tokenizers %s)" % (len(ids), sum(map(len, ids)),
                                                  tokenizers.__version__))


if __name__ == "__main__":
    main()
