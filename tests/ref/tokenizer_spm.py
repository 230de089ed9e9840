#!/usr/bin/env python3
# qlora-tools: ISC license.
"""SentencePiece-style tokenizer.json fixtures and their golden ids from HF `tokenizers`, for
tests/formats/test_tokenizer_spm.c (issue 15).

Run (repository root), with the llama-cpp-python 0.3.36 source distribution unpacked
(pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36):
    /work/venv-ref/bin/python tests/ref/tokenizer_spm.py fixture \
        SDIST/vendor/llama.cpp/models
    /work/venv-ref/bin/python tests/ref/tokenizer_spm.py golden
Committed output produced with tokenizers 0.23.3 and transformers 5.25.0 (PyPI).

`fixture` writes
  tests/data/tokenizer/spm/tokenizer.json   the tokenizer.json transformers makes from
        llama.cpp's ggml-vocab-llama-spm.gguf (AutoTokenizer.from_pretrained(gguf_file=...),
        save_pretrained): the Llama-2 32000-token vocabulary, 61249 merges, byte_fallback,
        Metaspace (prepend_scheme "first", split false), TemplateProcessing adding <s>, the
        Replace/ByteFallback/Fuse/Strip decoder; rewritten compactly (separators without
        spaces), otherwise as transformers wrote it.
  tests/data/tokenizer/spm/variants.json    {name: [[from, to], ...]}: each variant is the
        base file with these textual replacements (each must occur exactly once), made the same
        way by the C test, so that one 1.4 MB vocabulary serves every pipeline shape:
        mistral  the base file itself (Mistral/TinyLlama-chat as transformers >= 4.41 writes)
        llama2   HF's Llama-2 shape: normalizer Prepend("▁") + Replace(" ", "▁"), no
                 pre-tokenizer (the legacy behaviour: every piece after an added token gets
                 "▁"), unk_token "<unk>"
        phi3     llama2 with Phi-3's 64 added tokens (ids 32000-32063), <|end|> <|user|>
                 <|assistant|> <|system|> rstrip as in microsoft/Phi-3-mini, one
                 normalized:true token
        gemma    normalizer Replace(" ", "▁") only, decoder without Strip (Gemma-1/2 shape)
        always   Strip normalizer, Metaspace in the older form (add_prefix_space true, which
                 HF reads as prepend_scheme "always", split true), Metaspace decoder
        digits   NFC, Sequence[Digits(individual), Metaspace "first" split true], Metaspace
                 decoder (the offset-0 rule through an earlier pre-tokenizer)
        never    Metaspace prepend_scheme "never", Metaspace decoder last
  tests/data/tokenizer/spm/llamacpp.jsonl   the distinct test strings of llama.cpp's
        models/ggml-vocab-*.gguf.inp files (split at "\\n__ggml_vocab_test__\\n"), one JSON
        string per line.

`golden` writes tests/data/tokenizer/spm/<variant>.bin for the items of
tests/data/tokenizer/corpus.jsonl followed by those of llamacpp.jsonl, in the format of
tests/ref/tokenizer_golden.py (QTTOKGLD version 1) with two more flag bits, each a delta
against the item's plain ids (ids[:p] + middle + ids[len - q:]):
    flags & 8:  varint p | varint q | varint n | varint id * n
                encode(text, add_special_tokens=True) when it is not BEFORE + ids + AFTER
                (TOKENIZER_ADD_SPECIAL)
    flags & 16: varint p | varint q | varint n | varint id * n
                encode("</s>" + text)[1:], the text after a special token, when it differs
                (TOKENIZER_CONTINUE)
and after the random id sequences: varint n | ids (BEFORE) | varint n | ids (AFTER), what
encode(add_special_tokens=True) adds around "a" (asserted equal for every item but the
flagged ones).
"""
import json
import os
import random
import struct
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "tokenizer")
SPM = os.path.join(TOP, "spm")
SEP = "\n__ggml_vocab_test__\n"

PHI3_RSTRIP = ("<|end|>", "<|user|>", "<|assistant|>", "<|system|>")
PHI3_NORMALIZED = "<|placeholder6|>"

BASE_NORM = '"normalizer":null'
BASE_PRE = ('"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first",'
            '"split":false}')
BASE_DEC = ('"decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},'
            '"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":'
            '" ","start":1,"stop":0}]}')
BASE_UNK = '"unk_token":null'
LLAMA2 = [[BASE_NORM, '"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend",'
           '"prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}'],
          [BASE_PRE, '"pre_tokenizer":null'],
          [BASE_UNK, '"unk_token":"<unk>"']]


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def variants(base_added, phi3_added):
    return {
        "mistral": [],
        "llama2": LLAMA2,
        "phi3": LLAMA2 + [[base_added, phi3_added]],
        "gemma": [[BASE_NORM, '"normalizer":{"type":"Replace","pattern":{"String":" "},'
                   '"content":"▁"}'],
                  [BASE_PRE, '"pre_tokenizer":null'],
                  [BASE_DEC, '"decoder":{"type":"Sequence","decoders":[{"type":"Replace",'
                   '"pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},'
                   '{"type":"Fuse"}]}']],
        "always": [[BASE_NORM, '"normalizer":{"type":"Strip","strip_left":true,'
                    '"strip_right":true}'],
                   [BASE_PRE, '"pre_tokenizer":{"type":"Metaspace","replacement":"▁",'
                    '"add_prefix_space":true,"str_rep":"▁"}'],
                   [BASE_DEC, '"decoder":{"type":"Sequence","decoders":[{"type":"Metaspace",'
                    '"replacement":"▁","prepend_scheme":"always","split":true},'
                    '{"type":"ByteFallback"},{"type":"Fuse"}]}']],
        "digits": [[BASE_NORM, '"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"}]}'],
                   [BASE_PRE, '"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":'
                    '"Digits","individual_digits":true},' + BASE_PRE[16:].replace(
                        '"split":false', '"split":true') + ']}'],
                   [BASE_DEC, '"decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"},'
                    '{"type":"Metaspace","replacement":"▁","prepend_scheme":"first",'
                    '"split":true}]}']],
        "never": [[BASE_PRE, BASE_PRE.replace('"first"', '"never"')],
                  [BASE_DEC, '"decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"},'
                   '{"type":"Fuse"},{"type":"Metaspace","replacement":"▁",'
                   '"prepend_scheme":"never","split":false}]}']],
    }


def fixture(models):
    from transformers import AutoTokenizer
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for name in ("llama-spm", "phi-3"):
            tok = AutoTokenizer.from_pretrained(models, gguf_file="ggml-vocab-%s.gguf" % name)
            tok.save_pretrained(os.path.join(d, name))
        with open(os.path.join(d, "llama-spm", "tokenizer.json"), encoding="utf-8") as f:
            base = json.load(f)
        with open(os.path.join(d, "phi-3", "tokenizer.json"), encoding="utf-8") as f:
            phi3 = json.load(f)
    assert phi3["model"]["merges"] == base["model"]["merges"]
    for k, v in base["model"]["vocab"].items():
        assert phi3["model"]["vocab"][k] == v
    text = compact(base)
    base_added = '"added_tokens":' + compact(base["added_tokens"])
    added = phi3["added_tokens"]
    for a in added:
        a["rstrip"] = a["content"] in PHI3_RSTRIP
        if a["content"] == PHI3_NORMALIZED:
            a["normalized"] = True
            a["special"] = False
    phi3_added = '"added_tokens":' + compact(added)
    var = variants(base_added, phi3_added)
    for name, edits in var.items():
        for a, _ in edits:
            assert text.count(a) == 1, (name, a[:80])
    os.makedirs(SPM, exist_ok=True)
    with open(os.path.join(SPM, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(SPM, "variants.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(var, ensure_ascii=False, indent=0) + "\n")
    strings = []
    for fn in sorted(os.listdir(models)):
        if fn.startswith("ggml-vocab-") and fn.endswith(".inp"):
            with open(os.path.join(models, fn), encoding="utf-8") as f:
                parts = f.read().split(SEP)
            if parts[-1] == "":  # gemma-4's file lacks the final separator
                parts.pop()
            for s in parts:
                if s not in strings:
                    strings.append(s)
    with open(os.path.join(SPM, "llamacpp.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for s in strings:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    print("fixture: %d bytes, %d variants, %d llama.cpp strings" % (len(text.encode()),
                                                                    len(var), len(strings)))


def load(name):
    from tokenizers import Tokenizer
    with open(os.path.join(SPM, "tokenizer.json"), encoding="utf-8") as f:
        text = f.read()
    with open(os.path.join(SPM, "variants.json"), encoding="utf-8") as f:
        edits = json.load(f)[name]
    for a, b in edits:
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


def delta(ids, other):
    p = 0
    while p < len(ids) and p < len(other) and ids[p] == other[p]:
        p += 1
    q = 0
    while q < len(ids) - p and q < len(other) - p and ids[-1 - q] == other[-1 - q]:
        q += 1
    return varint(p) + varint(q) + ids_bytes(other[p:len(other) - q])


def corpus():
    items = []
    for fn in (os.path.join(TOP, "corpus.jsonl"), os.path.join(SPM, "llamacpp.jsonl")):
        with open(fn, encoding="utf-8") as f:
            items += [json.loads(line) for line in f]
    return items


def golden():
    import tokenizers
    items = corpus()
    with open(os.path.join(SPM, "variants.json"), encoding="utf-8") as f:
        names = list(json.load(f))
    for name in names:
        tok = load(name)
        enc = [e.ids for e in tok.encode_batch(items, add_special_tokens=False)]
        spec = [e.ids for e in tok.encode_batch(items, add_special_tokens=True)]
        cont = [e.ids[1:] for e in tok.encode_batch(["</s>" + s for s in items],
                                                    add_special_tokens=False)]
        tok.encode_special_tokens = True
        enc2 = [e.ids for e in tok.encode_batch(items, add_special_tokens=False)]
        tok.encode_special_tokens = False
        plain_a = tok.encode("a", add_special_tokens=False).ids
        full_a = tok.encode("a", add_special_tokens=True).ids
        k = full_a.index(plain_a[0])
        before, after = full_a[:k], full_a[k + len(plain_a):]
        out = bytearray(b"QTTOKGLD" + struct.pack("<II", 1, len(items)))
        ntok = same = 0
        nflag = [0] * 5
        for text, ids, ids2, ids3, ids4 in zip(items, enc, enc2, spec, cont):
            out += ids_bytes(ids)
            ntok += len(ids)
            dec = tok.decode(ids, skip_special_tokens=False)
            dec2 = tok.decode(ids, skip_special_tokens=True)
            flags = (1 if ids2 != ids else 0) | (2 if dec != text else 0) | \
                (4 if dec2 != dec else 0) | (8 if ids3 != before + ids + after else 0) | \
                (16 if ids4 != ids else 0)
            for k in range(5):
                nflag[k] += (flags >> k) & 1
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
            if flags & 8:
                out += delta(ids, ids3)
            if flags & 16:
                out += delta(ids, ids4)
        rnd = random.Random(1234)
        nv = tok.get_vocab_size(with_added_tokens=True)
        seqs = [[rnd.randrange(nv) if rnd.random() < 0.7 else rnd.randrange(260)
                 for _ in range(rnd.randint(1, 30))] for _ in range(300)]
        out += varint(len(seqs))
        for ids in seqs:
            out += ids_bytes(ids)
            for skip in (False, True):
                b = tok.decode(ids, skip_special_tokens=skip).encode("utf-8")
                out += varint(len(b)) + b
        out += ids_bytes(before) + ids_bytes(after)
        with open(os.path.join(SPM, name + ".bin"), "wb") as f:
            f.write(out)
        print("%s: %d items, %d tokens, %d round-trip, flags %s, %d bytes (tokenizers %s)"
              % (name, len(items), ntok, same, nflag, len(out), tokenizers.__version__))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "fixture":
        fixture(sys.argv[2])
        return 0
    if len(sys.argv) == 2 and sys.argv[1] == "golden":
        golden()
        return 0
    sys.stderr.write("usage: tokenizer_spm.py fixture MODELS_DIR | golden\n")
    return 64


if __name__ == "__main__":
    sys.exit(main())
