#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Unigram tokenizer.json fixtures (with the Precompiled normalizer) and their golden ids from
HF `tokenizers`, for tests/formats/test_tokenizer_spm.c (issue 15).

Run (repository root):
    /work/venv-ref/bin/python tests/ref/tokenizer_unigram.py fixture
    /work/venv-ref/bin/python tests/ref/tokenizer_unigram.py golden
Committed output produced with sentencepiece 0.2.3, transformers 5.25.0 and tokenizers 0.23.3
(PyPI).

`fixture` trains a SentencePiece Unigram model on tests/data/tokenizer/corpus.jsonl (vocabulary
up to 3000, nmt_nfkc normalization rules: its precompiled_charsmap is sentencepiece's compiled
NFKC map, byte_fallback pieces, character_coverage 0.98 so that rarer characters are unknown,
one thread) and converts it with transformers' own converters (convert_slow_tokenizer; a stub
stands for the slow tokenizer they read the file and a few settings from):
  tests/data/tokenizer/unigram/tokenizer.json  T5Converter (3 extra ids): Unigram model with
        unk_id 0 and byte_fallback false, normalizer Sequence[Precompiled, Strip(right),
        Replace(Regex " {2,}", "▁")], Metaspace "always" split true, TemplateProcessing
        "$A </s>", Metaspace decoder
  tests/data/tokenizer/unigram/variants.json   edits of it, as tests/ref/tokenizer_spm.py:
        t5        the file itself
        xlmr      XLMRobertaConverter's post-processor ("<s> $A </s>")
        fallback  byte_fallback true with the ByteFallback/Fuse decoders after Metaspace
        spm       SpmConverter.build_tokenizer_from_spm_proto's pipeline for the same model
                  (what transformers builds when no converter class matches): Precompiled,
                  then Replace(Regex "\\A +| +\\z", ""), Replace(Regex " {2,}", " "),
                  Replace(" ", "▁"), Replace(Regex "\\A▁", "▁▁"), Metaspace "always" split
                  false, byte_fallback, the Replace/ByteFallback/Fuse/Strip decoder
  tests/data/tokenizer/unigram/extra.jsonl     2000 generated strings: mixed scripts,
        whitespace runs (spaces, tabs, ideographic space, nbsp, CR LF), precomposed and
        decomposed accents, combining marks after characters the map rewrites (fullwidth,
        halfwidth katakana, ligatures: HF replaces the whole grapheme cluster by the map of
        its first character), emoji sequences, zero-width characters

`golden` writes tests/data/tokenizer/unigram/<variant>.bin in tests/ref/tokenizer_spm.py's
format for the items of corpus.jsonl, spm/llamacpp.jsonl and unigram/extra.jsonl.
"""
import io
import json
import os
import random
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_spm as ts  # noqa: E402

TOP = ts.TOP
UNI = os.path.join(TOP, "unigram")

PIECES = [
    "Hello", "world", "naïve", "café", "Ünïcödé", "Straße", "ﬁnance", "ﬂow", "Ⅻ", "①②③", "™",
    "㍻", "㎏", "ＡＢＣ", "ｆｕｌｌｗｉｄｔｈ", "１２３", "！？", "ｶﾀｶﾅ", "ﾊﾟﾝ", "ｶﾞ", "テスト",
    "日本語", "中文字符", "한국어", "한", "\u1100\u1161\u11a8", "Привет", "Ελληνικά", "ά",
    "مرحبا", "مَرْحَبًا", "שָׁלוֹם", "नमस्ते", "क्षि", "สวัสดี", "ກາວ", "e\u0301", "a\u0308",
    "n\u0303\u0301", "Ａ\u0301", "ｶ\u3099", "ﬁ\u0301", "①\u0308", "o\u0336", "i\u0307\u0301",
    "\u0301", "\u3099", "😀", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "1\ufe0f\u20e3", "❤\ufe0f",
    "\u200b", "\u200d", "\ufeff", "\u00ad", "x\u00a0y", "\u2028", "\u3000", "…", "‘quoted’",
    "«guillemets»", "—", "½", "x²", "H₂O", "µ", "Å", "ǅ", "ﾟ", "ㄱ", "\u2126", "K\u212a",
    "don't", "I'm", "12,345.67", "3.14", "<s>", "</s>", "<unk>", "<extra_id_0>", "▁", "▁▁x",
    "tab\there", "a\r\nb", "line\nbreak", "\x7f", "\x01ctl", "\ud7a3", "\U0001d400", "ﷺ",
]
SEPS = [" ", " ", " ", "", "  ", "   ", "\t", "\n", "\u3000", "\u00a0", " \n ", "\r\n"]


def extra_strings():
    rnd = random.Random(15)
    out = []
    while len(out) < 2000:
        k = rnd.randint(1, 8)
        s = ""
        for i in range(k):
            if i:
                s += rnd.choice(SEPS)
            s += rnd.choice(PIECES)
        if rnd.random() < 0.15:
            s = rnd.choice(["", " ", "  ", "\t"]) + s + rnd.choice(["", " ", "   ", "\n"])
        if s not in out:
            out.append(s)
    return out


def compact(obj):
    return ts.compact(obj)


def fixture():
    import sentencepiece as spm
    from transformers.convert_slow_tokenizer import SpmConverter, T5Converter, \
        XLMRobertaConverter
    items = base_corpus()
    text = [s for s in items if s.strip()]
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text * 3), model_writer=buf, vocab_size=3000,
        model_type="unigram", normalization_rule_name="nmt_nfkc", character_coverage=0.98,
        hard_vocab_limit=False, byte_fallback=True, num_threads=1, minloglevel=2)
    os.makedirs(UNI, exist_ok=True)
    model = os.path.join(UNI, "tmp.model")
    with open(model, "wb") as f:
        f.write(buf.getvalue())
    try:
        sp = spm.SentencePieceProcessor(model_file=model)

        def ids(t):
            return sp.piece_to_id(t)
        stub = types.SimpleNamespace(vocab_file=model, _extra_ids=3,
                                     convert_tokens_to_ids=ids)
        t5 = json.loads(T5Converter(stub).converted().to_str())
        xl = json.loads(XLMRobertaConverter(stub).converted().to_str())
        conv = SpmConverter(stub)
        gen = json.loads(SpmConverter.build_tokenizer_from_spm_proto(
            conv.proto, conv.vocab(conv.proto)).to_str())
    finally:
        os.unlink(model)
    base = compact(t5)
    nz = t5["normalizer"]["normalizers"]
    assert nz[0]["type"] == "Precompiled"
    assert gen["normalizer"]["normalizers"][0] == nz[0]
    tail = "," + ",".join(compact(x) for x in nz[1:]) + "]"
    gen_tail = "," + ",".join(compact(x) for x in gen["normalizer"]["normalizers"][1:]) + "]"
    dec = '"decoder":' + compact(t5["decoder"])
    pre = '"pre_tokenizer":' + compact(t5["pre_tokenizer"])
    post = '"post_processor":' + compact(t5["post_processor"])
    fb = '"byte_fallback":false'
    var = {
        "t5": [],
        "xlmr": [[post, '"post_processor":' + compact(xl["post_processor"]).replace(
            '"ids":[0]', '"ids":[1]').replace('"ids":[3]', '"ids":[2]')]],
        "fallback": [[fb, '"byte_fallback":true'],
                     [dec, '"decoder":{"type":"Sequence","decoders":[' + compact(t5["decoder"])
                      + ',{"type":"ByteFallback"},{"type":"Fuse"}]}']],
        "spm": [[tail, gen_tail], [fb, '"byte_fallback":true'],
                [pre, '"pre_tokenizer":' + compact(gen["pre_tokenizer"])],
                [dec, '"decoder":' + compact(gen["decoder"])],
                [post, '"post_processor":null']],
    }
    for name, edits in var.items():
        for a, _ in edits:
            assert base.count(a) == 1, (name, a[:80])
    with open(os.path.join(UNI, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(base)
    with open(os.path.join(UNI, "variants.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(var, ensure_ascii=False, indent=0) + "\n")
    with open(os.path.join(UNI, "extra.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for s in extra_strings():
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    print("fixture: %d bytes, %d pieces, xlmr post-processor %s" % (
        len(base.encode()), len(t5["model"]["vocab"]), compact(xl["post_processor"])[:200]))


def base_corpus():
    items = []
    for fn in (os.path.join(TOP, "corpus.jsonl"), os.path.join(TOP, "spm", "llamacpp.jsonl")):
        with open(fn, encoding="utf-8") as f:
            items += [json.loads(line) for line in f]
    return items


def corpus():
    items = base_corpus()
    with open(os.path.join(UNI, "extra.jsonl"), encoding="utf-8") as f:
        items += [json.loads(line) for line in f]
    return items


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "fixture":
        fixture()
        return 0
    if len(sys.argv) == 2 and sys.argv[1] == "golden":
        ts.SPM = UNI
        ts.corpus = corpus
        ts.golden()
        return 0
    sys.stderr.write("usage: tokenizer_unigram.py fixture | golden\n")
    return 64


if __name__ == "__main__":
    sys.exit(main())
