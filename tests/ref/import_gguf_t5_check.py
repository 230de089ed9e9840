#!/usr/bin/env python3
# qlora-tools: ISC license.
"""import-gguf on Unigram GGUFs (tokenizer.ggml.model "t5", llama.cpp's UGM: issue 15) against
llama.cpp. llama.cpp ships no T5 vocabulary test file, so the GGUFs are made here as its
converter (conversion/t5.py) makes them from a SentencePiece Unigram tokenizer.model: tokens,
scores and types of every piece, three USER_DEFINED <extra_id_N> as added_tokens.json adds
them (score -1000), [PADn] UNUSED up to a vocab_size 8 larger, add_space_prefix,
remove_extra_whitespaces and the precompiled_charsmap (an array of u8).
  vocab-t5-rules.gguf  from tests/data/tokenizer/spm-model/rules.model (tests/ref/spm_model.py:
                       five custom normalization rules, 300 pieces); committed
  vocab-t5-nfkc.gguf   from uni-nfkc.model (nmt_nfkc, T5's rule); 300 KB: by hand only

`gguf` (run with /work/venv-ref/bin/python: sentencepiece, gguf): writes both GGUFs, the
    nfkc one to /tmp.
`golden` (run with /work/venv-llama/bin/python): llama.cpp's ids (vocab_only,
    add_special=False, parse_special=False) on vocab-t5-rules.gguf for
    tests/data/tokenizer/spm-model/norm.jsonl and the strings below, written to
    tests/data/import/t5_strings.jsonl and tests/cli/import-gguf/t5.sh.stdout.exact (as tok-cat
    prints them, then the eos that tok-chatml --format text appends).
`check` (venv-llama, after make): both GGUFs on every item of tests/data/tokenizer/corpus.jsonl,
    norm.jsonl and the strings below; prints ids identical / total. Result (2026-12-04):
    vocab-t5-rules 958/961, vocab-t5-nfkc 956/961. Every difference is llama.cpp parting
    from the sentencepiece library, whose ids ours are there (checked with sentencepiece on
    uni-nfkc.model): text after a user-defined piece (llama.cpp: a new fragment with its own
    space prefix; DIFFER below), and pieces of equal-scoring segmentations in another order
    (runs of one character, "xxx...", "111...", "中中中...", and two more strings of the
    corpus, one Chinese, one with emoji).
Run from the repository root. Committed output: sentencepiece 0.2.3, gguf 0.19.0,
llama-cpp-python 0.3.36.
"""
import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SPM = os.path.join(TOP, "data", "tokenizer", "spm-model")
RULES_GGUF = os.path.join(TOP, "data", "gguf", "vocab-t5-rules.gguf")
NFKC_GGUF = "/tmp/vocab-t5-nfkc.gguf"
STRINGS = os.path.join(TOP, "data", "import", "t5_strings.jsonl")
EXPECT = os.path.join(TOP, "cli", "import-gguf", "t5.sh.stdout.exact")
EXTRA = ["Hello world", "  two  leading", "trail   ", "a<extra_id_0>", "</s> text",
         "ｶﾞｷﾞ ﬁne Ａ① x", "\u3000\u3000wide space"]
# Where llama.cpp parts from the sentencepiece library, which we follow (check only): text
# after a user-defined piece is a new fragment for llama.cpp (its own space prefix, its own
# whitespace removal); runs of one character, whose segmentations tie, end differently.
DIFFER = ["a<extra_id_0>b <extra_id_2>", "x" * 60, "1" * 60]


def make(src, dst):
    import gguf
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb
    data = open(src, "rb").read()
    m = pb.ModelProto()
    m.ParseFromString(data)
    sp = spm.SentencePieceProcessor(model_proto=data)
    toks, scores, types = [], [], []
    for i in range(sp.vocab_size()):
        toks.append(sp.id_to_piece(i).encode("utf-8"))
        scores.append(sp.get_score(i))
        t = 1
        if sp.is_unknown(i):
            t = 2
        elif sp.is_control(i):
            t = 3
        elif sp.is_unused(i):
            t = 5
        elif sp.is_byte(i):
            t = 6
        types.append(t)
    for k in range(3):
        toks.append(("<extra_id_%d>" % k).encode())
        scores.append(-1000.0)
        types.append(4)
    for k in range(1, 6):
        toks.append(("[PAD%d]" % k).encode())
        scores.append(-1000.0)
        types.append(5)
    g = gguf.GGUFWriter(dst, arch="t5")
    g.add_context_length(512)
    g.add_embedding_length(64)
    g.add_feed_forward_length(128)
    g.add_block_count(2)
    g.add_head_count(4)
    g.add_key_length(16)
    g.add_value_length(16)
    g.add_layer_norm_rms_eps(1e-6)
    g.add_relative_attn_buckets_count(32)
    g.add_decoder_start_token_id(0)
    g.add_tokenizer_model("t5")
    g.add_tokenizer_pre("default")
    g.add_token_list(toks)
    g.add_token_scores(scores)
    g.add_token_types(types)
    g.add_add_space_prefix(m.normalizer_spec.add_dummy_prefix)
    g.add_remove_extra_whitespaces(m.normalizer_spec.remove_extra_whitespaces)
    g.add_precompiled_charsmap(m.normalizer_spec.precompiled_charsmap)
    g.add_eos_token_id(sp.eos_id())
    g.add_unk_token_id(sp.unk_id())
    g.add_pad_token_id(sp.pad_id() if sp.pad_id() >= 0 else sp.unk_id())
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()
    print("%s: %d tokens" % (dst, len(toks)))


def strings():
    with open(os.path.join(SPM, "norm.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f] + EXTRA


def llama_ids(path, items):
    import llama_cpp
    llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    out = [llm.tokenize(s.encode("utf-8"), add_bos=False, special=False) if s else []
           for s in items]
    return out, llm.token_eos()


def ours(path, items, d):
    subprocess.run(["bin/import-gguf", "-q", "--tokenizer-only", "-o", d + "/o", path],
                   check=True)
    with open(d + "/in.jsonl", "w", encoding="utf-8") as f:
        for s in items:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    subprocess.run(["bin/tok-chatml", "-q", "--format", "text", "-t", d + "/o", "-o",
                    d + "/x.tok", d + "/in.jsonl"], check=True)
    lines = subprocess.run(["bin/tok-cat", d + "/x.tok"], capture_output=True, text=True,
                           check=True).stdout.split("\n")
    return [json.loads(l)["ids"][:-1] for l in lines if l]


def golden():
    items = strings()
    with open(STRINGS, "w", encoding="utf-8") as f:
        for s in items:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    ids, eos = llama_ids(RULES_GGUF, items)
    with open(EXPECT, "w") as f:
        f.write("tokenizer.model\ntokenizer_config.json\n")  # t5.sh lists the directory
        for x in ids:
            x = x + [eos]
            f.write(json.dumps({"ids": x, "mask": [1] * len(x)}, separators=(",", ":")) + "\n")
    print("%d strings, %d ids" % (len(ids), sum(len(x) for x in ids)))


def check():
    with open(os.path.join(TOP, "data", "tokenizer", "corpus.jsonl"), encoding="utf-8") as f:
        items = [json.loads(line) for line in f]
    items = [s for s in items + strings() + DIFFER if s]
    bad = 0
    for path in (RULES_GGUF, NFKC_GGUF):
        want, _ = llama_ids(path, items)
        with tempfile.TemporaryDirectory() as d:
            got = ours(path, items, d)
        ok = sum(a == b for a, b in zip(want, got))
        bad += ok != len(items)
        print("%s: %d/%d strings identical to llama.cpp" % (os.path.basename(path), ok, len(items)))
        shown = 0
        for s, a, b in zip(items, want, got):
            if a != b and shown < 5:
                print("  %r\n    llama.cpp %s\n    ours      %s" % (s[:60], a[:16], b[:16]))
                shown += 1
    return 1 if bad else 0


def main():
    cmd = sys.argv[1] if len(sys.argv) == 2 else ""
    if cmd == "gguf":
        make(os.path.join(SPM, "rules.model"), RULES_GGUF)
        make(os.path.join(SPM, "uni-nfkc.model"), NFKC_GGUF)
        return 0
    if cmd == "golden":
        golden()
        return 0
    if cmd == "check":
        return check()
    sys.stderr.write("usage: import_gguf_t5_check.py gguf | golden | check\n")
    return 64


if __name__ == "__main__":
    sys.exit(main())
