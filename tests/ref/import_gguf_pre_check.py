#!/usr/bin/env python3
# qlora-tools: ISC license.
"""import-gguf's rebuild of the byte-level pre-tokenizers that llama.cpp ships no vocab test
file for (issue 15): deepseek-v3, chatglm-bpe, glm4, tekken. llama.cpp (llama-cpp-python
0.3.36, vocab_only=True, llama_tokenize(add_special=False, parse_special=False: special-token text is text, as in tok-chatml --format text)) is the
reference.

`vocab` (run with /work/venv-ref/bin/python, which has the `regex` module): trains a
    byte-level BPE to the end on the pieces that the GPT-2, Llama-3, DeepSeek-V3 and tekken
    (both forms) regexes cut the strings below into (split here with `regex`), so that each
    pre-tokenizer's pieces tend to be whole tokens and another split gives other ids (on
    tiny-vocab.gguf's 253 merges the four names gave the same ids: a test that could not
    fail); adds the WHOLE tokens; for NAME in the names above writes tests/data/gguf/
    tiny-vocab-NAME.gguf (tiny-vocab.gguf, tests/ref/vocab_only_gguf.py, with that vocabulary
    and tokenizer.ggml.pre = NAME) and tests/data/import/pre_strings.jsonl (one JSON string a
    line).
`golden` (run with /work/venv-llama/bin/python): tokenizes pre_strings.jsonl with llama.cpp
    on each tiny-vocab-NAME.gguf and writes tests/cli/import-gguf/pre-NAME.sh.stdout.exact as
    tok-cat prints the .tok that `tok-chatml --format text` makes from them (llama.cpp's ids,
    then the eos that --format text appends; every token trained); tests/cli/import-gguf/
    pre-NAME.sh compare.
    Run both from the repository root.

`check MODELS` (run by hand after make; MODELS = SDIST/vendor/llama.cpp/models):
    real vocabularies (ggml-vocab-llama-bpe and ggml-vocab-qwen2, 128k and 151k tokens) with
    tokenizer.ggml.pre set to each name; strings: every .inp string of llama.cpp's vocab tests,
    tests/data/tokenizer/corpus.jsonl and pre_strings.jsonl. Prints ids identical / total.

Committed output produced with llama-cpp-python 0.3.36 and gguf 0.19.0 (venv-llama).
Result of `check` (2026-12-04, 974 strings): chatglm-bpe, glm4 and tekken 974/974 identical
on both vocabularies; deepseek-v3 974/974 on qwen2's and 973/974 on llama-bpe's, the one
difference "\U00013460 \U000105c0": U+105C0 (Todhri, Unicode 16) is a letter for Oniguruma
and for our regexes (pretok.c widens \p{L}), not for llama.cpp's tables, so llama.cpp splits
the space from it and we do not (the other names split it the same way either way).
"""
import json
import os
import subprocess
import sys
import tempfile

import gguf

NAMES = ["deepseek-v3", "chatglm-bpe", "glm4", "tekken"]
SEP = "\n__ggml_vocab_test__\n"
TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
STRINGS = os.path.join(TOP, "data", "import", "pre_strings.jsonl")

# Where these pre-tokenizers part from GPT-2's and from each other: digit runs (1-3 grouping),
# CJK and kana runs (deepseek-v3 isolates them), punctuation glued to ASCII letters, marks,
# symbols, case changes inside words (tekken's upper*lower+ split), newlines and spaces.
PRE_STRINGS = [
    "Hello, World! 123 世界\n\nÀé ok  ",
    "x\r\n  y",
    "1234567 12 1 0000",
    "日本語のテキストとカタカナ、漢字123",
    "中文标点，还有English混合。",
    "(hello) [world] {x} \"quoted\" 'single'",
    "#include <stdio.h>\nint main(void) { return 0; }",
    "$100 +5 <=> ^_^ `code` |pipe| ~tilde",
    "CamelCaseWord HTTPServer iPhone McDonald's",
    "ÉCOLE école ÀbcDéF ŞİŞLİ straße STRASSE",
    "Ωmega ΣΙΓΜΑ σίγμα Ääkkönen",
    "naïve café résumé coöperate",
    "e\u0301 a\u0308 n\u0303o",
    "😀😃 emoji ❤️ ★☆ ©®™ ±×÷",
    "tab\there\tand\vvt\fff",
    "   leading and trailing   ",
    "line1\n\n\nline2\r\n\r\nline3",
    "it's we're they've I'm you'll he'd IT'S",
    "a.b,c;d:e!f?g",
    "--option=value --flag -x",
    "path/to/file.txt C:\\Windows\\system32",
    "https://example.com/a?b=c&d=e#f",
    "١٢٣ ４５６ ⅷ ²³",
    "한국어 텍스트입니다 123",
    "Привет, мир! ПРИВЕТ привет",
    "x" * 40 + " " + "Ab" * 20,
    "\u00a0nbsp\u2009thin\u3000ideo",
    "a\u200bzero\u200cwidth\u200djoin",
    "mixed: abc中def日本ghi한국",
    "  \n  \n",
    "€uro ©opyright ±plus ★star —dash «quote» ¿qué? ¡olé!",
]
# Words in the vocabulary as whole tokens with no merges that build them (added after
# training, not trained on): llama.cpp's ignore_merges (glm4, tekken) takes the token whole, the
# others spell it in bytes.
WHOLE = ["Ġxyzzy", "plugh"]
WHOLE_STRING = "say xyzzy plugh"


def byte_chars():
    """GPT-2's bytes_to_unicode: byte -> printable character."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def train_bpe(strings, n_merges):
    """Plain byte-level BPE training on whole strings: the most frequent adjacent pair (ties:
    the smallest pair) merged n_merges times; a pair whose result is already a token is
    skipped. Returns (tokens after the 256 byte characters, merges)."""
    bc = byte_chars()
    words = [[bc[b] for b in s.encode("utf-8")] for s in strings]
    vocab = set(bc.values())
    toks, merges, skip = [], [], set()
    while len(merges) < n_merges:
        count = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                if (a, b) not in skip:
                    count[(a, b)] = count.get((a, b), 0) + 1
        if not count:
            break
        best = min(count, key=lambda p: (-count[p], p))
        if best[0] + best[1] in vocab:
            skip.add(best)
            continue
        vocab.add(best[0] + best[1])
        toks.append(best[0] + best[1])
        merges.append(best[0] + " " + best[1])
        for w in words:
            i = 0
            while i < len(w) - 1:
                if (w[i], w[i + 1]) == best:
                    w[i:i + 2] = [best[0] + best[1]]
                i += 1
    return toks, merges


def write_vocab(src, dst, pre, vocab=None):
    """src's metadata with tokenizer.ggml.pre = pre (and vocab = (tokens, types, merges) in
    place of its own), no tensors."""
    r = gguf.GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    w = gguf.GGUFWriter(dst, arch=arch)
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        vt = f.types[0]
        sub = f.types[1] if vt == gguf.GGUFValueType.ARRAY else None
        v = pre if name == "tokenizer.ggml.pre" else f.contents()
        if vocab and name == "tokenizer.ggml.tokens":
            v = vocab[0]
        elif vocab and name == "tokenizer.ggml.token_type":
            v = vocab[1]
        elif vocab and name == "tokenizer.ggml.merges":
            v = vocab[2]
        elif vocab and name.endswith(".vocab_size"):
            v = len(vocab[0])
        w.add_key_value(name, v, vt, sub_type=sub)
    if "tokenizer.ggml.pre" not in r.fields:
        w.add_key_value("tokenizer.ggml.pre", pre, gguf.GGUFValueType.STRING)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_ids(path, strings):
    import llama_cpp
    llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    out = [llm.tokenize(s.encode("utf-8"), add_bos=False, special=False) if s else []
           for s in strings]
    eos = llm.token_eos()
    del llm
    return out, eos


def ours(gg, strings, d):
    """Our ids: import-gguf --tokenizer-only, then tok-chatml --format text (eos dropped)."""
    subprocess.run(["bin/import-gguf", "-q", "--tokenizer-only", "-o", d + "/o", gg],
                   check=True)
    with open(d + "/in.jsonl", "w", encoding="utf-8") as f:
        for s in strings:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    subprocess.run(["bin/tok-chatml", "-q", "--format", "text", "-t", d + "/o", "-o",
                    d + "/x.tok", d + "/in.jsonl"], check=True)
    lines = subprocess.run(["bin/tok-cat", d + "/x.tok"], capture_output=True, text=True,
                           check=True).stdout.split("\n")
    return [json.loads(l)["ids"][:-1] for l in lines if l]


# The regexes whose pieces the test vocabulary is trained on (llama.cpp's llama-vocab.cpp; the
# tekken forms: Mistral-Nemo's tokenizer.json and llama.cpp's).
TRAIN_SPLITS = [
    [r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"],
    [r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
     r"\s*[\r\n]+|\s+(?!\S)|\s+"],
    [r"\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
     r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|"
     r" ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"],
    [r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|"
     r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}|"
     r" ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"],
    [r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?"
     r"((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|"
     r"\s*[\r\n]+|\s+(?!\S)|\s+"],
]


def split_isolated(pieces, pat):
    import regex
    out = []
    for p in pieces:
        k = 0
        for m in regex.finditer(pat, p):
            if m.start() > k:
                out.append(p[k:m.start()])
            if m.end() > m.start():
                out.append(m.group())
            k = m.end()
        if k < len(p):
            out.append(p[k:])
    return out


def vocab():
    with open(STRINGS, "w", encoding="utf-8") as f:
        for s in PRE_STRINGS + [WHOLE_STRING]:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    words = []
    for seq in TRAIN_SPLITS:
        for s in PRE_STRINGS:
            pieces = [s]
            for pat in seq:
                pieces = split_isolated(pieces, pat)
            words += pieces
    src = os.path.join(TOP, "data", "gguf", "tiny-vocab.gguf")
    r = gguf.GGUFReader(src)
    special = r.fields["tokenizer.ggml.tokens"].contents()[:3]  # <|endoftext|> <|im_start|> <|im_end|>
    bc = byte_chars()
    toks, merges = train_bpe(words, 100000)
    tokens = special + [bc[b] for b in range(256)] + toks + [w for w in WHOLE if w not in toks]
    types = [3] * 3 + [1] * (len(tokens) - 3)
    for name in NAMES:
        gg = os.path.join(TOP, "data", "gguf", "tiny-vocab-%s.gguf" % name)
        write_vocab(src, gg, name, (tokens, types, merges))
    print("%d tokens, %d merges" % (len(tokens), len(merges)))


def golden():
    with open(STRINGS, encoding="utf-8") as f:
        strings = [json.loads(l) for l in f]
    for name in NAMES:
        gg = os.path.join(TOP, "data", "gguf", "tiny-vocab-%s.gguf" % name)
        ids, eos = llama_ids(gg, strings)
        exp = os.path.join(TOP, "cli", "import-gguf", "pre-%s.sh.stdout.exact" % name)
        with open(exp, "w") as f:
            for x in ids:
                x = x + [eos]
                f.write(json.dumps({"ids": x, "mask": [1] * len(x)}, separators=(",", ":"))
                        + "\n")
        print("%s: %d strings, %d ids" % (name, len(ids), sum(len(x) for x in ids)))


def all_strings(models):
    seen, out = set(), []

    def add(s):
        if s not in seen:
            seen.add(s)
            out.append(s)
    for fn in sorted(os.listdir(models)):
        if fn.endswith(".gguf.inp"):
            with open(os.path.join(models, fn), encoding="utf-8") as f:
                items = f.read().split(SEP)
            if items and items[-1] == "":
                items.pop()
            for s in items:
                add(s)
    with open(os.path.join(TOP, "data", "tokenizer", "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            add(json.loads(line))
    for s in PRE_STRINGS + [WHOLE_STRING]:
        add(s)
    return [s for s in out if s]


def check(models):
    strings = all_strings(models)
    bad = 0
    for base in ("llama-bpe", "qwen2"):
        for name in NAMES:
            with tempfile.TemporaryDirectory() as d:
                gg = d + "/v.gguf"
                write_vocab(os.path.join(models, "ggml-vocab-%s.gguf" % base), gg, name)
                want, _ = llama_ids(gg, strings)
                got = ours(gg, strings, d)
                ok = sum(a == b for a, b in zip(want, got))
                bad += ok != len(strings)
                print("%s on the %s vocabulary: %d/%d strings identical to llama.cpp" %
                      (name, base, ok, len(strings)))
                shown = 0
                for s, a, b in zip(strings, want, got):
                    if a != b and shown < 3:
                        print("  %r\n    llama.cpp %s\n    ours      %s" % (s[:60], a[:20], b[:20]))
                        shown += 1
    return 1 if bad else 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "vocab":
        vocab()
        return 0
    if len(sys.argv) == 2 and sys.argv[1] == "golden":
        golden()
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        return check(sys.argv[2])
    sys.stderr.write("usage: import_gguf_pre_check.py vocab | golden | check MODELS\n")
    return 64


if __name__ == "__main__":
    sys.exit(main())
