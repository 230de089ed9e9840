#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Golden token ids from HF `tokenizers` for tests/formats/test_tokenizer.c.

Run (after tests/ref/smollm2_tokenizer.py and tests/ref/tokenizer_corpus.py):
    /work/venv-ref/bin/python tests/ref/tokenizer_golden.py
Committed output produced with tokenizers 0.23.3 (PyPI).

For each fixture tests/data/tokenizer/<name>/tokenizer.json (llama3style: see LLAMA3_EDITS) and each line of
tests/data/tokenizer/corpus.jsonl (a JSON string), writes tests/data/tokenizer/<name>/golden.bin:

    "QTTOKGLD" | u32 version (1) | u32 n_items | item ...         (little-endian)
    item = varint n | varint id * n                  encode(text, add_special_tokens=False)
           varint flags
           flags & 1: varint n | varint id * n       ids with encode_special_tokens=True
                                                     (split_special_tokens), when they differ
           flags & 2: varint len | bytes             decode(ids, skip_special_tokens=False),
                                                     when it differs from the text
           flags & 4: varint len | bytes             decode(ids, skip_special_tokens=True),
                                                     when it differs from the line above
    then: varint m | m * (varint n | varint id * n | varint len | bytes | varint len | bytes)
          m random id sequences (any id below the vocabulary size, seeded) with their
          decode(skip_special_tokens=False) and decode(skip_special_tokens=True)
varint = unsigned LEB128.
"""
import json
import os
import random
import struct

import tokenizers
from tokenizers import Tokenizer

FIXTURES = ("smollm2", "qwen2style", "legacy", "fallback", "llama3style")

# llama3style has no tokenizer.json of its own: it is qwen2style's file with these textual
# replacements (each occurs once), done identically by tests/formats/test_tokenizer.c:
# no normalizer, the Llama-3 regex (\p{N}{1,3}), ignore_merges.
LLAMA3_EDITS = (('"normalizer":{"type":"NFC"}', '"normalizer":null'),
                ('\\\\p{N}|', '\\\\p{N}{1,3}|'),
                ('"ignore_merges":false', '"ignore_merges":true'))


def load(top, name):
    if name != "llama3style":
        return Tokenizer.from_file(os.path.join(top, name, "tokenizer.json"))
    with open(os.path.join(top, "qwen2style", "tokenizer.json"), encoding="utf-8") as f:
        text = f.read()
    for a, b in LLAMA3_EDITS:
        assert text.count(a) == 1, a
        text = text.replace(a, b)
    return Tokenizer.from_str(text)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def ids_bytes(ids):
    return varint(len(ids)) + b"".join(varint(i) for i in ids)


def main():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "tokenizer")
    with open(os.path.join(top, "corpus.jsonl"), encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    for name in FIXTURES:
        tok = load(top, name)
        enc = [e.ids for e in tok.encode_batch(corpus, add_special_tokens=False)]
        tok.encode_special_tokens = True
        enc2 = [e.ids for e in tok.encode_batch(corpus, add_special_tokens=False)]
        tok.encode_special_tokens = False
        out = bytearray(b"QTTOKGLD" + struct.pack("<II", 1, len(corpus)))
        ntok = same = 0
        for text, ids, ids2 in zip(corpus, enc, enc2):
            out += ids_bytes(ids)
            ntok += len(ids)
            dec = tok.decode(ids, skip_special_tokens=False)
            dec2 = tok.decode(ids, skip_special_tokens=True)
            flags = (1 if ids2 != ids else 0) | (2 if dec != text else 0) | \
                (4 if dec2 != dec else 0)
            same += dec == text
            out += varint(flags)
            if flags & 1:
                out += ids_bytes(ids2)
            if flags & 2:
                b = dec.encode("utf-8")
                out += varint(len(b)) + b
            if flags & 4:
                b = dec2.encode("utf-8")
                out += varint(len(b)) + b
        rnd = random.Random(1234)
        nv = tok.get_vocab_size(with_added_tokens=True)
        seqs = [[rnd.randrange(nv) if rnd.random() < 0.8 else rnd.randrange(300)
                 for _ in range(rnd.randint(1, 30))] for _ in range(300)]
        out += varint(len(seqs))
        for ids in seqs:
            out += ids_bytes(ids)
            for skip in (False, True):
                b = tok.decode(ids, skip_special_tokens=skip).encode("utf-8")
                out += varint(len(b)) + b
        os.makedirs(os.path.join(top, name), exist_ok=True)
        with open(os.path.join(top, name, "golden.bin"), "wb") as f:
            f.write(out)
        print("%s: %d items, %d tokens, %d round-trip, %d bytes (tokenizers %s)"
              % (name, len(corpus), ntok, same, len(out), tokenizers.__version__))


if __name__ == "__main__":
    main()
