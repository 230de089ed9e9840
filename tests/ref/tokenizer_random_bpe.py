#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Random BPE models and their HF ids, for the merge loop of formats/tokenizer/bpe.c.

Run: /work/venv-ref/bin/python tests/ref/tokenizer_random_bpe.py
Committed output produced with tokenizers 0.23.3. Writes tests/data/tokenizer/random_bpe.jsonl,
one line per model: {"tokenizer": <tokenizer.json object>, "texts": [...], "ids": [[...], ...]}.
The merge lists are random (not trained): shuffled ranks, merges of merged tokens, pairs
listed twice (the later rank wins), words from 1 to 300 symbols (both the rank scan and the
heap of the C code), with and without ignore_merges and "a b" legacy merges.
"""
import json
import os
import random

from tokenizers import Tokenizer


def model(R):
    alpha = list("abcde")[:R.randint(2, 5)]
    vocab = {c: i for i, c in enumerate(alpha)}
    merges, toks = [], list(alpha)
    for _ in range(R.randint(5, 60)):
        a, b = R.choice(toks), R.choice(toks)
        if len(a + b) > 12:
            continue
        if (a, b) in merges and R.random() < 0.5:
            merges.append((a, b))
            continue
        merges.append((a, b))
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
            toks.append(a + b)
    R.shuffle(merges)
    legacy = R.random() < 0.3
    j = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
         "normalizer": None, "pre_tokenizer": None, "post_processor": None, "decoder": None,
         "model": {"type": "BPE", "dropout": None, "unk_token": None,
                   "continuing_subword_prefix": None, "end_of_word_suffix": None,
                   "fuse_unk": False, "byte_fallback": False,
                   "ignore_merges": R.random() < 0.3, "vocab": vocab,
                   "merges": ["%s %s" % m for m in merges] if legacy else
                   [list(m) for m in merges]}}
    texts = ["".join(R.choice(alpha) for _ in range(R.choice([1, 2, 3, 10, 40, 47, 48, 49, 50,
                                                             100, 300])))
             for _ in range(20)]
    return j, texts, alpha


def main():
    R = random.Random(4242)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "tokenizer",
                        "random_bpe.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(40):
            j, texts, alpha = model(R)
            t = Tokenizer.from_str(json.dumps(j))
            ids = [t.encode(s, add_special_tokens=False).ids for s in texts]
            f.write(json.dumps({"tokenizer": j, "texts": texts, "ids": ids},
                               separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
