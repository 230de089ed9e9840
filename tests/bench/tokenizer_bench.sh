#!/bin/sh
# qlora-tools: ISC license.
# Encode speed of formats/tokenizer vs HF tokenizers encode_batch, same corpus, same
# tokenizer.json, same thread count, in one run; checks that the ids are identical.
#   tests/bench/tokenizer_bench.sh [tokenizer.json] [repeat] [threads ...]
# Defaults: the smollm2 fixture, repeat 10 (3.3 MB), threads 1 2. Needs /work/venv-ref (or
# PYTHON=...) with tokenizers, and a built build/libqlora.a.
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
tok=${1:-$top/tests/data/tokenizer/smollm2/tokenizer.json}
rep=${2:-10}
if [ $# -ge 2 ]; then shift 2; else set --; fi
threads=${*:-1 2}
py=${PYTHON:-/work/venv-ref/bin/python}
corpus=$top/tests/data/tokenizer/corpus.jsonl
bin=$top/build/tokenizer_bench
make -C "$top" -s build/libqlora.a
cc -O2 -std=c11 -D_GNU_SOURCE -I"$top" -o "$bin" "$top/tests/bench/tokenizer_bench.c" \
	"$top/build/libqlora.a" -larchive -lxxhash -ljansson -lpcre2-8 -lutf8proc -lopenblas \
	-lpthread -lm
echo "tokenizer: $tok"
echo "corpus: $corpus x $rep ($(($(wc -c < "$corpus") * rep)) bytes)"
for t in $threads; do
	c=$("$bin" "$tok" "$corpus" "$t" "$rep")
	h=$(RAYON_NUM_THREADS=$t TOKENIZERS_PARALLELISM=true "$py" "$top/tests/bench/tokenizer_bench_hf.py" \
		"$tok" "$corpus" "$t" "$rep")
	echo "$c" | awk -v h="$h" '{ split(h, x, " ");
		printf "threads %d: C %.3f s, HF %.3f s, %d tokens, C %.2f Mtok/s, HF %.2f Mtok/s, speed-up %.2fx, ids %s\n",
		$2, $3, x[3], $4, $4 / $3 / 1e6, x[4] / x[3] / 1e6, x[3] / $3,
		($4 == x[4] && $5 == x[5]) ? "identical" : "DIFFER" }'
done
