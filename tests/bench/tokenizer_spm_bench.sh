#!/bin/sh
# qlora-tools: ISC license.
# Encode speed of formats/tokenizer vs HF tokenizers encode_batch on SentencePiece-style
# tokenizer.json files (issue 15): the variants of tests/data/tokenizer/spm (see
# tests/ref/tokenizer_spm.py) written out, each run through tests/bench/tokenizer_bench.sh
# (same corpus, same thread count, ids checked identical).
#   tests/bench/tokenizer_spm_bench.sh [repeat] [variant ...]
# Defaults: repeat 10, variants mistral (Metaspace "first", no split: each piece between added
# tokens is one BPE word) and llama2 (Prepend/Replace normalizers, no pre-tokenizer); threads
# from THREADS (default "1 2"). FIXDIR=tests/data/tokenizer/unigram (variants t5 xlmr fallback
# spm, tests/ref/tokenizer_unigram.py) measures the Unigram tokenizer.json files instead.
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
rep=${1:-10}
if [ $# -ge 1 ]; then shift; fi
variants=${*:-mistral llama2}
py=${PYTHON:-/work/venv-ref/bin/python}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for v in $variants; do
	"$py" - "${FIXDIR:-$top/tests/data/tokenizer/spm}" "$v" "$dir/$v.json" <<'PY'
import json, sys
d, name, out = sys.argv[1:4]
text = open(d + "/tokenizer.json", encoding="utf-8").read()
for a, b in json.load(open(d + "/variants.json", encoding="utf-8"))[name]:
    assert text.count(a) == 1
    text = text.replace(a, b)
open(out, "w", encoding="utf-8").write(text)
PY
	echo "== $v"
	sh "$top/tests/bench/tokenizer_bench.sh" "$dir/$v.json" "$rep" ${THREADS:-1 2}
done
