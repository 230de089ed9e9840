#!/bin/sh
# qlora-tools: ISC license.
# tok-chatml vs HF tokenizers encode_batch on the same rendered ChatML text, same tokenizer
# (the SmolLM2 fixture), same thread count, in one run; prints both times and the ratio, and
# checks that the ids are identical. See tok-chatml-bench.py for what is timed.
#   tests/bench/tok-chatml-bench.sh [records] [threads]
# Defaults: 20000 records, all cores. Needs /work/venv-ref (or PYTHON=...) with tokenizers and
# transformers.
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-20000}
threads=${2:-$(nproc)}
py=${PYTHON:-/work/venv-ref/bin/python}
make -C "$top" -s bin/tok-chatml >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/tokchatml-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
RAYON_NUM_THREADS=$threads TOKENIZERS_PARALLELISM=true "$py" "$top/tests/bench/tok-chatml-bench.py" \
	"$top/bin/tok-chatml" "$top/tests/data/tokenizer/smollm2" "$threads" "$n" "$work"
