#!/usr/bin/env python3
# qlora-tools: ISC license.
"""SentencePiece tokenizer.model fixtures and golden ids from the sentencepiece library, for
tests/formats/test_spm_model.c (issue 15: a model directory that ships only tokenizer.model).

Run (repository root), with the llama-cpp-python 0.3.36 source distribution unpacked (see
tests/ref/tokenizer_spm.py):
    /work/venv-ref/bin/python tests/ref/spm_model.py SDIST/vendor/llama.cpp/models
Committed output produced with sentencepiece 0.2.3 (PyPI).

Writes tests/data/tokenizer/spm-model/:
  llama.model   Llama-2's model rebuilt from llama.cpp's ggml-vocab-llama-spm.gguf (its pieces,
                scores and types; BPE, byte_fallback, identity normalizer, add_dummy_prefix,
                no remove_extra_whitespaces: the normalizer_spec of Llama-2's own file)
  uni.model     a Unigram model trained here on the corpus (vocabulary up to 2500, identity
                normalizer, byte_fallback, user-defined <sep> and [MASK],
                remove_extra_whitespaces on)
  uni-unk.model Unigram without byte_fallback nor dummy prefix (unknown characters)
  bpe.model     a BPE model trained here (vocabulary up to 2500, no byte_fallback, user-defined
                <sep>)
  uni-nfkc.model  Unigram with the nmt_nfkc precompiled_charsmap (T5 and ALBERT's rule),
                remove_extra_whitespaces and dummy prefix, no byte_fallback
  bpe-nfkc.model  BPE with nfkc_cf (NFKC and case folding), byte_fallback
                (these two: the items below plus NORM, strings the maps change, also
                written to norm.jsonl)
  rules.model   a small Unigram model (vocabulary 300, trained on the ASCII items) whose charsmap is compiled from the
                five RULES below (a two-character key among them), and rules.charsmap, that
                map alone: small enough for the fuzz seeds (tests/fuzz/make_seeds.py)
  <name>.bin    QTTOKGLD version 1 (tests/ref/tokenizer_golden.py) for the items of
                tests/data/tokenizer/corpus.jsonl, tests/data/tokenizer/spm/llamacpp.jsonl and
                EXTRA below: EncodeAsIds(text) (the library never matches control pieces such as
                <s> in text: TOKENIZER_TEXT_ONLY), flags & 2: DecodeIds(ids) when it differs
                from the text; no random-id part (m = 0).
"""
import io
import json
import os
import struct
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "tokenizer")
OUT = os.path.join(TOP, "spm-model")
EXTRA = ["a<sep>b", "<sep>", " <sep> x", "[MASK] is [MASK]", "   lots   of   spaces   ",
         " ", "  ", "\t tab", "x" * 300, "<s>not control</s>", "ab<sep><sep>cd", "▁▁x▁",
         "日本語のテキスト", "🙂🙂 emoji", "\u00a0nbsp", ""]


# What nmt_nfkc / nfkc_cf change: compatibility forms (fullwidth, ligatures, circled, super-
# scripts), half-width katakana with voicing marks (two characters, one key: the longest match),
# combining sequences, control characters and odd spaces (mapped to a space, then squeezed),
# case (nfkc_cf), and text the maps leave alone.
NORM = ["ＡＢＣ１２３　ｆｕｌｌ", "ﬁnance ﬂow ﬀ", "①②③ ⑴ ㈱", "x² H₂O ½", "ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ ｱｲｳ",
        "e\u0301 a\u0308 n\u0303", "tab\there\nnew\rline", "a\u3000\u3000b\u00a0c\u2003d",
        "zero\u200bwidth\u200djoin", "\u0007bell\u001fus", "ÀÉÎÕÜ straße ǅ", "ℌℍℎ ℡ ™",
        "Ｈｅｌｌｏ，ｗｏｒｌｄ！", "㍻ ㌔ ㎏", "  lead and trail  ", "Ω Å K", "\ufeffbom"]


# normalization_rule_tsv lines: source code points -> target code points (hex)
RULES = ["FF21\t41", "FB01\t66 69", "3000\t20", "FF76 FF9E\t30AC", "2460\t28 31 29"]


def corpus():
    items = []
    for fn in (os.path.join(TOP, "corpus.jsonl"), os.path.join(TOP, "spm", "llamacpp.jsonl")):
        with open(fn, encoding="utf-8") as f:
            items += [json.loads(line) for line in f]
    return items + EXTRA


def llama(models):
    import gguf
    r = gguf.GGUFReader(os.path.join(models, "ggml-vocab-llama-spm.gguf"))
    f = r.fields
    toks = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode()
            for i in f["tokenizer.ggml.tokens"].data]
    scores = [float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data]
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0])
             for i in f["tokenizer.ggml.token_type"].data]
    m = pb.ModelProto()
    for t, s, ty in zip(toks, scores, types):
        p = m.pieces.add()
        p.piece, p.score, p.type = t, s, ty
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.vocab_size = len(toks)
    m.trainer_spec.byte_fallback = True
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = False
    return m.SerializeToString()


def train(lines, normalization_rule_name="identity", **kw):
    w = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=w,
                                   normalization_rule_name=normalization_rule_name, vocab_size=2500, hard_vocab_limit=False,
                                   character_coverage=0.98, num_threads=1, seed_sentencepiece_size=200000,
                                   minloglevel=2, **kw)
    return w.getvalue()


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


def main():
    items = corpus()
    lines = [s for s in items if s.strip()]
    models = {
        "llama": llama(sys.argv[1]),
        "uni": train(lines, model_type="unigram", byte_fallback=True,
                     user_defined_symbols=["<sep>", "[MASK]"]),
        "uni-unk": train(lines, model_type="unigram", add_dummy_prefix=False),
        "bpe": train(lines, model_type="bpe", remove_extra_whitespaces=False,
                     user_defined_symbols=["<sep>"]),
    }
    nlines = lines + [s for s in NORM if s.strip()]
    models["uni-nfkc"] = train(nlines, model_type="unigram", normalization_rule_name="nmt_nfkc")
    models["bpe-nfkc"] = train(nlines, model_type="bpe", byte_fallback=True,
                               normalization_rule_name="nfkc_cf")
    tsv = os.path.join(OUT, "rules.tsv.tmp")
    with open(tsv, "w") as f:
        f.write("\n".join(RULES) + "\n")
    w = io.BytesIO()
    small = [x for x in nlines if all(ord(c) < 128 for c in x)] + ["Ａbc ﬁne　x ｶﾞ ①"] * 3
    spm.SentencePieceTrainer.train(sentence_iterator=iter(small), model_writer=w,
                                   normalization_rule_tsv=tsv, vocab_size=300,
                                   hard_vocab_limit=False, character_coverage=0.98,
                                   num_threads=1, minloglevel=2, model_type="unigram")
    os.unlink(tsv)
    models["rules"] = w.getvalue()
    m = pb.ModelProto()
    m.ParseFromString(models["rules"])
    with open(os.path.join(OUT, "rules.charsmap"), "wb") as f:
        f.write(m.normalizer_spec.precompiled_charsmap)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "norm.jsonl"), "w", encoding="utf-8") as f:
        for text in NORM:
            f.write(json.dumps(text, ensure_ascii=False) + "\n")
    for name, data in models.items():
        with open(os.path.join(OUT, name + ".model"), "wb") as f:
            f.write(data)
        sp = spm.SentencePieceProcessor(model_proto=data)
        its = items + NORM if name.endswith("-nfkc") or name == "rules" else items
        out = bytearray(b"QTTOKGLD" + struct.pack("<II", 1, len(its)))
        ntok = same = 0
        for text in its:
            ids = sp.encode(text)
            out += varint(len(ids)) + b"".join(varint(i) for i in ids)
            ntok += len(ids)
            dec = sp.decode(ids)
            same += dec == text
            if dec != text:
                b = dec.encode("utf-8")
                out += varint(2) + varint(len(b)) + b
            else:
                out += varint(0)
        out += varint(0)
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(out)
        print("%s: %d pieces, %d bytes; %d items, %d ids, %d decode to the text (sentencepiece %s)"
              % (name, sp.get_piece_size(), len(data), len(its), ntok, same, spm.__version__))


if __name__ == "__main__":
    main()
