#!/usr/bin/env python3
# qlora-tools: ISC license.
"""References for export-gguf's tokenizer metadata (issue 19) on the models of
tests/ref/export_tokenizer_models.py (tests/data/export/tok/NAME):

`convert` (/work/venv-ref/bin/python, LLAMACPP_SRC=SDIST/vendor/llama.cpp): llama.cpp's
    convert_hf_to_gguf.py --vocab-only on each model; writes tests/data/export/tok/convert.txt,
    one line "NAME K key xxh3" per tokenizer.* key (XXH3-64 of the key's whole encoding, as
    tests/ref/export_gguf_convert.py). The converter names a byte-level BPE pre-tokenizer by
    hashing the ids of a probe text, which only knows real vocabularies: for glm4 and glm its
    get_vocab_base_pre answers "glm4" and "chatglm-bpe" (what llama.cpp does with the tokenizers
    as they are: ignore_merges or not). Everything else is the converter's.
`hf` (/work/venv-ref/bin/python): HF tokenizers (AutoTokenizer on the directory) on
    tests/data/export/tok/strings.jsonl, add_special_tokens=False, special tokens parsed and
    not (split_special_tokens), to NAME.hf.bin; and for the SentencePiece models the
    sentencepiece library's ids (NAME.spm.bin, only parsed-as-text: it matches no specials).
`reader` (venv-ref, LLAMACPP_SRC, after make): bin/export-gguf's F32 GGUF of each model read
    by gguf-py's GGUFReader: tests/data/export/tok/gguf-reader.txt, as
    tests/jobs/gguf_reader_golden.h reads it.
`golden` (/work/venv-llama/bin/python, after make): the same files tokenized by llama.cpp
    (vocab_only, add_special=False, parse_special True and False) to NAME.llamacpp.bin; prints
    how many strings llama.cpp tokenizes as HF does and as sentencepiece does.
`real_dirs` (venv-ref; LLAMACPP_SRC, REALDIR=a scratch directory) then `real` (venv-llama):
    Llama-2's and Phi-3's real vocabularies, from llama.cpp's test GGUFs
    (models/ggml-vocab-llama-spm.gguf, ggml-vocab-phi-3.gguf, made by its converter from the
    real checkpoints): a tokenizer.model rebuilt from the pieces, transformers' tokenizer.json,
    a tiny model; export-gguf's tokens, scores and types against llama.cpp's file, and
    llama.cpp's ids on the .inp strings against the .out (HF's ids) with either file. Prints
    only (the figures are in the commit that added this).
The .bin files are tests/ref/llamacpp_tokenizer.py's "QTLCPTOK" format (item: the ids with
specials parsed, then flag 1 and the ids without when they differ); the strings are
strings.jsonl's, in order. tests/jobs/test_export_gguf_tokenizer.c checks export-gguf against
all of them. Run from the repository root. Committed output: llama-cpp-python 0.3.36 (its
vendored llama.cpp and gguf-py), transformers 5.25.0, tokenizers 0.23.3, sentencepiece 0.2.3.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.getcwd()
TOK = os.path.join(ROOT, "tests", "data", "export", "tok")
NAMES = ["llama-spm", "gemma", "gemma2", "phi3", "glm4", "glm"]
SPM = {"llama-spm", "gemma", "gemma2", "phi3"}
PRE = {"glm4": "glm4", "glm": "chatglm-bpe"}


def strings():
    with open(os.path.join(TOK, "strings.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def ids_bytes(ids):
    return varint(len(ids)) + b"".join(varint(i) for i in ids)


def write_bin(path, pairs):
    out = bytearray(b"QTLCPTOK" + struct.pack("<II", 1, len(pairs)))
    for sp, tx in pairs:
        out += ids_bytes(sp)
        out += varint(1) + ids_bytes(tx) if tx != sp else varint(0)
    with open(path, "wb") as f:
        f.write(out)


def read_bin(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack_from("<I", data, 12)[0]
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

    out = []
    for _ in range(n):
        sp = [vi() for _ in range(vi())]
        tx = [vi() for _ in range(vi())] if vi() & 1 else sp
        out.append((sp, tx))
    return out


RUN = """
import runpy, sys
sys.path.insert(0, {src!r})
sys.argv = [{script!r}] + {args!r}
import conversion.base
if {pre!r}:
    conversion.base.TextModel.get_vocab_base_pre = lambda self, tokenizer: {pre!r}
runpy.run_path({script!r}, run_name="__main__")
"""


def convert():
    import numpy as np
    import xxhash
    src = os.environ["LLAMACPP_SRC"]
    sys.path.insert(0, os.path.join(src, "gguf-py"))
    from gguf import GGUFReader
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in NAMES:
            out = os.path.join(tmp, name + ".gguf")
            script = os.path.join(src, "convert_hf_to_gguf.py")
            code = RUN.format(src=src, script=script, pre=PRE.get(name, ""),
                              args=["--vocab-only", "--outfile", out, os.path.join(TOK, name)])
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            for k, f in GGUFReader(out).fields.items():
                if k.startswith("tokenizer."):
                    h = xxhash.xxh3_64_hexdigest(b"".join(np.ascontiguousarray(p).tobytes()
                                                          for p in f.parts))
                    lines.append(f"{name} K {k} {h}\n")
    with open(os.path.join(TOK, "convert.txt"), "w") as fh:
        fh.writelines(lines)
    print("%d keys" % len(lines))


def hf():
    import sentencepiece as spm
    from transformers import AutoTokenizer
    ss = strings()
    for name in NAMES:
        d = os.path.join(TOK, name)
        t = AutoTokenizer.from_pretrained(d)
        t2 = AutoTokenizer.from_pretrained(d, split_special_tokens=True)
        pairs = [(t.encode(s, add_special_tokens=False), t2.encode(s, add_special_tokens=False))
                 for s in ss]
        write_bin(os.path.join(TOK, name + ".hf.bin"), pairs)
        if name in SPM:
            p = spm.SentencePieceProcessor(model_file=os.path.join(d, "tokenizer.model"))
            write_bin(os.path.join(TOK, name + ".spm.bin"),
                      [(p.encode(s), p.encode(s)) for s in ss])
    print("%d strings x %d tokenizers" % (len(ss), len(NAMES)))


def exported(tmp, name):
    g = os.path.join(tmp, name + ".gguf")
    subprocess.run([os.path.join(ROOT, "bin", "export-gguf"), "-q", "--type", "f32", "-o", g,
                    os.path.join(TOK, name)], check=True)
    return g


def reader():
    import xxhash
    sys.path.insert(0, os.path.join(os.environ["LLAMACPP_SRC"], "gguf-py"))
    from gguf import GGUFReader
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in NAMES:
            g = exported(tmp, name)
            r = GGUFReader(g)
            with open(g, "rb") as f:
                data = f.read()
            gt = r.fields["general.type"]
            lines.append("%s f32 tensors %d kv %d general.type %s bytes %d xxh3 %s\n" % (
                name, len(r.tensors), len(r.fields), bytes(gt.parts[gt.data[0]]).decode(),
                len(data), xxhash.xxh3_64_hexdigest(data)))
    with open(os.path.join(TOK, "gguf-reader.txt"), "w") as f:
        f.writelines(lines)
    print("".join(lines), end="")


def golden():
    import llama_cpp
    ss = strings()
    with tempfile.TemporaryDirectory() as tmp:
        for name in NAMES:
            llm = llama_cpp.Llama(model_path=exported(tmp, name), vocab_only=True, verbose=False)
            pairs = []
            for s in ss:
                b = s.encode("utf-8")
                pairs.append((llm.tokenize(b, add_bos=False, special=True) if b else [],
                              llm.tokenize(b, add_bos=False, special=False) if b else []))
            del llm
            write_bin(os.path.join(TOK, name + ".llamacpp.bin"), pairs)
            h = read_bin(os.path.join(TOK, name + ".hf.bin"))
            same = [sum(a[k] == b[k] for a, b in zip(pairs, h)) for k in (0, 1)]
            msg = "%s: llama.cpp = HF on %d/%d strings (specials parsed), %d/%d (as text)" % (
                name, same[0], len(ss), same[1], len(ss))
            if name in SPM:
                sp = read_bin(os.path.join(TOK, name + ".spm.bin"))
                msg += ", = sentencepiece %d/%d (as text)" % (
                    sum(a[1] == b[1] for a, b in zip(pairs, sp)), len(ss))
            print(msg)
            shown = 0
            for s, a, b in zip(ss, pairs, h):
                for k in (0, 1):
                    if a[k] != b[k] and shown < 4:
                        print("   %r (%s)\n     llama.cpp %s\n     HF        %s" % (
                            s[:50], "text" if k else "special", a[k][:12], b[k][:12]))
                        shown += 1


# ---- real vocabularies: Llama-2's and Phi-3's, from llama.cpp's own test GGUFs ----

REAL = {"llama-spm": 32000, "phi-3": 32000}  # pieces in the tokenizer.model


def pb_varint(n):
    return varint(n)


def pb_field(num, wire, payload):
    key = pb_varint(num << 3 | wire)
    if wire == 2:
        return key + pb_varint(len(payload)) + payload
    return key + payload


def model_proto(tokens, scores, types):
    """A SentencePiece ModelProto (BPE, byte_fallback, identity normalization, dummy prefix,
    extra whitespace kept): what Llama-2's and Phi-3's tokenizer.model hold."""
    out = bytearray()
    for t, sc, ty in zip(tokens, scores, types):
        piece = pb_field(1, 2, t) + pb_field(2, 5, struct.pack("<f", sc)) + \
            (pb_field(3, 0, pb_varint(ty)) if ty != 1 else b"")
        out += pb_field(1, 2, piece)
    trainer = pb_field(3, 0, pb_varint(2)) + pb_field(4, 0, pb_varint(len(tokens))) + \
        pb_field(35, 0, pb_varint(1))
    norm = pb_field(1, 2, b"identity") + pb_field(3, 0, pb_varint(1)) + \
        pb_field(4, 0, pb_varint(0)) + pb_field(5, 0, pb_varint(1))
    return bytes(out + pb_field(2, 2, trainer) + pb_field(3, 2, norm))


def real_dirs():
    """(venv-ref) REALDIR/NAME: a tiny model with the real vocabulary of
    LLAMACPP_SRC/models/ggml-vocab-NAME.gguf: tokenizer.model rebuilt from its pieces, the
    tokens above them as tokenizer_config.json's added tokens, tokenizer.json by transformers."""
    import torch
    from transformers import (AddedToken, AutoTokenizer, LlamaConfig, LlamaForCausalLM,
                              Phi3Config, Phi3ForCausalLM)
    src, out = os.environ["LLAMACPP_SRC"], os.environ["REALDIR"]
    sys.path.insert(0, os.path.join(src, "gguf-py"))
    from gguf import GGUFReader
    for name, n_pieces in REAL.items():
        r = GGUFReader(os.path.join(src, "models", "ggml-vocab-%s.gguf" % name))
        f = r.fields["tokenizer.ggml.tokens"]
        tokens = [bytes(f.parts[i]) for i in f.data]
        f = r.fields["tokenizer.ggml.scores"]
        scores = [float(f.parts[i][0]) for i in f.data]
        f = r.fields["tokenizer.ggml.token_type"]
        types = [int(f.parts[i][0]) for i in f.data]
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "tokenizer.model"), "wb") as fh:
            fh.write(model_proto(tokens[:n_pieces], scores[:n_pieces], types[:n_pieces]))
        small = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                     num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                     vocab_size=len(tokens), bos_token_id=1, eos_token_id=2)
        cls, cfg = (Phi3ForCausalLM, Phi3Config(**small, sliding_window=None)) if name == "phi-3" \
            else (LlamaForCausalLM, LlamaConfig(**small))
        torch.manual_seed(0)
        cls(cfg).to(torch.bfloat16).save_pretrained(d, safe_serialization=True)
        with open(os.path.join(d, "tokenizer_config.json"), "w") as fh:
            json.dump({"tokenizer_class": "LlamaTokenizer"}, fh)
        tok = AutoTokenizer.from_pretrained(d)
        for t, ty in zip(tokens[n_pieces:], types[n_pieces:]):
            tok.add_tokens([AddedToken(t.decode(), special=ty == 3, normalized=False)],
                           special_tokens=ty == 3)
        tok.save_pretrained(d)
        print("%s: %d tokens, %d pieces" % (d, len(tokens), n_pieces))


def real():
    """(venv-llama, after make and real_dirs) export-gguf of each REALDIR/NAME against
    llama.cpp's own GGUF of that vocabulary: tokens, scores and types equal; llama.cpp's ids on
    the .inp strings against the .out (HF's ids) for both files."""
    import llama_cpp
    import numpy as np
    from gguf import GGUFReader
    src, out = os.environ["LLAMACPP_SRC"], os.environ["REALDIR"]
    for name in REAL:
        theirs = os.path.join(src, "models", "ggml-vocab-%s.gguf" % name)
        ours = os.path.join(out, name + ".gguf")
        subprocess.run([os.path.join(ROOT, "bin", "export-gguf"), "-q", "--type", "f32", "-o",
                        ours, os.path.join(out, name)], check=True)
        a, b = GGUFReader(theirs), GGUFReader(ours)
        same = []
        for k in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                  "tokenizer.ggml.model", "tokenizer.ggml.bos_token_id",
                  "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                  "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"):
            fa, fb = a.fields.get(k), b.fields.get(k)
            eq = fa is not None and fb is not None and len(fa.data) == len(fb.data) and all(
                np.array_equal(fa.parts[i], fb.parts[j]) for i, j in zip(fa.data, fb.data))
            same.append("%s %s" % (k.split(".")[-1], "same" if eq else "DIFFERS"))
        with open(theirs + ".inp", encoding="utf-8") as f:
            inp = f.read().split("\n__ggml_vocab_test__\n")[:-1]
        with open(theirs + ".out", encoding="utf-8") as f:
            want = [[int(x) for x in line.split()] for line in f.read().split("\n")[:len(inp)]]
        counts = []
        for g in (theirs, ours):
            llm = llama_cpp.Llama(model_path=g, vocab_only=True, verbose=False)
            counts.append(sum(llm.tokenize(s.encode(), add_bos=False, special=False) == w
                              for s, w in zip(inp, want)))
            del llm
        print("%s: %s; llama.cpp's ids = HF's (.out) on %d/%d strings with llama.cpp's GGUF, "
              "%d/%d with ours" % (name, ", ".join(same), counts[0], len(inp), counts[1], len(inp)))


def main():
    cmd = sys.argv[1] if len(sys.argv) == 2 else ""
    if cmd in ("convert", "hf", "reader", "golden", "real_dirs", "real"):
        globals()[cmd]()
        return 0
    sys.stderr.write("usage: export_tokenizer_llamacpp.py convert | hf | reader | golden | "
                     "real_dirs | real\n")
    return 64


if __name__ == "__main__":
    sys.exit(main())
