#!/usr/bin/env python3
# qlora-tools: ISC license.
"""import-gguf on a Gemma SentencePiece GGUF (tokenizer.ggml.model "llama", architecture gemma,
add_space_prefix false: issue 15) against llama.cpp. llama.cpp ships no Gemma 1-3 vocabulary
test file, so the GGUF is made here as llama.cpp's converter makes one from a Gemma-style
tokenizer.model (conversion/gemma.py: _set_vocab_sentencepiece, then add_space_prefix false):
a SentencePiece BPE trained here on tests/data/tokenizer/corpus.jsonl (vocabulary 2000,
byte_fallback, no dummy prefix, no whitespace removal, identity normalizer, Gemma's <pad> <eos>
<bos> <unk> at ids 0-3, user-defined <start_of_turn> <end_of_turn>).

`gguf` (run with /work/venv-ref/bin/python, which has sentencepiece and gguf): trains the model
    and writes tests/data/gguf/vocab-gemma.gguf (general.architecture gemma, tiny-llama.gguf's
    hyper-parameters under gemma.*).
`golden` (run with /work/venv-llama/bin/python): tokenizes tests/data/import/gemma_strings.jsonl
    (written by `gguf`: corpus.jsonl's first 200 non-empty items and the strings below) with
    llama.cpp (vocab_only, add_special=False, parse_special=False) and writes
    tests/cli/import-gguf/gemma.sh.stdout.exact as tok-cat prints the .tok that
    `tok-chatml --format text` makes (llama.cpp's ids, then the eos).
`check` (venv-llama, after make): the same on every item of corpus.jsonl; prints the count.
Run from the repository root. Committed output: sentencepiece 0.2.3, gguf 0.19.0,
llama-cpp-python 0.3.36.
"""
import io
import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
GGUF = os.path.join(TOP, "data", "gguf", "vocab-gemma.gguf")
STRINGS = os.path.join(TOP, "data", "import", "gemma_strings.jsonl")
EXPECT = os.path.join(TOP, "cli", "import-gguf", "gemma.sh.stdout.exact")
EXTRA = [" leading space", "  two leading", "trailing  ", "a  b   c", "<start_of_turn>user\nhi"
         "<end_of_turn>\n", "x<end_of_turn>y", "\n\n\nnewlines", "tab\tx", "日本語 😀",
         "\u00e9\u0301", "<bos>not parsed", " "]


def corpus():
    with open(os.path.join(TOP, "data", "tokenizer", "corpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def make_gguf():
    import gguf
    import sentencepiece as spm
    lines = [s for s in corpus() if s.strip()]
    w = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=w, model_type="bpe", vocab_size=2000,
        hard_vocab_limit=False, character_coverage=0.98, byte_fallback=True,
        add_dummy_prefix=False, remove_extra_whitespaces=False,
        normalization_rule_name="identity", num_threads=1, minloglevel=2,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>",
        bos_piece="<bos>", unk_piece="<unk>",
        user_defined_symbols=["<start_of_turn>", "<end_of_turn>"])
    sp = spm.SentencePieceProcessor(model_proto=w.getvalue())
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
        elif sp.id_to_piece(i) in ("<start_of_turn>", "<end_of_turn>"):
            t = 4
        types.append(t)
    r = gguf.GGUFReader(os.path.join(TOP, "data", "gguf", "tiny-llama.gguf"))
    g = gguf.GGUFWriter(GGUF, arch="gemma")
    for name, f in r.fields.items():
        if name.startswith("llama.") and not name.startswith("llama.rope.scaling"):
            vt = f.types[0]
            g.add_key_value("gemma." + name[6:], f.contents(), vt)
    g.add_key_value("gemma.vocab_size", len(toks), gguf.GGUFValueType.UINT32)
    g.add_key_value("gemma.attention.key_length", 16, gguf.GGUFValueType.UINT32)
    g.add_key_value("gemma.attention.value_length", 16, gguf.GGUFValueType.UINT32)
    g.add_tokenizer_model("llama")
    g.add_tokenizer_pre("default")
    g.add_token_list(toks)
    g.add_token_scores(scores)
    g.add_token_types(types)
    g.add_bos_token_id(2)
    g.add_eos_token_id(1)
    g.add_unk_token_id(3)
    g.add_pad_token_id(0)
    g.add_add_bos_token(True)
    g.add_add_eos_token(False)
    g.add_add_space_prefix(False)
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()
    items = [s for s in corpus() if s.strip()][:200] + EXTRA
    with open(STRINGS, "w", encoding="utf-8") as f:
        for s in items:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    print("%s: %d tokens; %d strings" % (GGUF, len(toks), len(items)))


def llama_ids(strings):
    import llama_cpp
    llm = llama_cpp.Llama(model_path=GGUF, vocab_only=True, verbose=False)
    out = [llm.tokenize(s.encode("utf-8"), add_bos=False, special=False) if s else []
           for s in strings]
    return out, llm.token_eos()


def ours(strings, d):
    subprocess.run(["bin/import-gguf", "-q", "--tokenizer-only", "-o", d + "/o", GGUF],
                   check=True)
    with open(d + "/in.jsonl", "w", encoding="utf-8") as f:
        for s in strings:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    subprocess.run(["bin/tok-chatml", "-q", "--format", "text", "-t", d + "/o", "-o",
                    d + "/x.tok", d + "/in.jsonl"], check=True)
    lines = subprocess.run(["bin/tok-cat", d + "/x.tok"], capture_output=True, text=True,
                           check=True).stdout.split("\n")
    return [json.loads(l)["ids"][:-1] for l in lines if l]


def golden():
    with open(STRINGS, encoding="utf-8") as f:
        strings = [json.loads(l) for l in f]
    ids, eos = llama_ids(strings)
    with open(EXPECT, "w") as f:
        for x in ids:
            x = x + [eos]
            f.write(json.dumps({"ids": x, "mask": [1] * len(x)}, separators=(",", ":")) + "\n")
    print("%d strings, %d ids" % (len(ids), sum(len(x) for x in ids)))


def check():
    strings = [s for s in corpus() if s] + EXTRA
    want, _ = llama_ids(strings)
    with tempfile.TemporaryDirectory() as d:
        got = ours(strings, d)
    ok = sum(a == b for a, b in zip(want, got))
    print("gemma: %d/%d strings identical to llama.cpp" % (ok, len(strings)))
    shown = 0
    for s, a, b in zip(strings, want, got):
        if a != b and shown < 5:
            print("  %r\n    llama.cpp %s\n    ours      %s" % (s[:60], a[:16], b[:16]))
            shown += 1
    return 0 if ok == len(strings) else 1


def main():
    cmd = sys.argv[1] if len(sys.argv) == 2 else ""
    if cmd == "gguf":
        make_gguf()
        return 0
    if cmd == "golden":
        golden()
        return 0
    if cmd == "check":
        return check()
    sys.stderr.write("usage: import_gguf_gemma_check.py gguf | golden | check\n")
    return 64


if __name__ == "__main__":
    sys.exit(main())
