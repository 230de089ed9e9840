#!/bin/sh
# rouge-zh against the Python pipeline it reproduces (jieba + rouge_chinese + nltk + numpy, the
# ChatGLM compute_metrics), on the same pairs, in one run; prints both times and the ratio.
#   sh tests/bench/rouge-zh-bench.sh [pairs.jsonl]      (from the repository root, after make)
# Default pairs: tests/data/rouge_pairs.jsonl (2,500 generated pairs, tests/ref/rouge_pairs.py).
# PYTHON (default /work/venv-ref/bin/python) must have jieba, rouge_chinese, nltk, numpy.
set -e
pairs=${1:-tests/data/rouge_pairs.jsonl}
py=${PYTHON:-/work/venv-ref/bin/python}
bin=${BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }

t0=$(now)
"$py" tests/bench/rouge-zh-bench.py "$pairs" > "$tmp/py.json" 2> "$tmp/py.err"
t1=$(now)
"$bin/rouge-zh" --progress "$pairs" > "$tmp/c.json" 2> "$tmp/c.err"
t2=$(now)
"$bin/rouge-zh" --progress --threads 1 "$pairs" > "$tmp/c1.json" 2> "$tmp/c1.err"
t3=$(now)
"$bin/rouge-zh" --char --threads 1 "$pairs" > /dev/null
t4=$(now)

n=$(wc -l < "$pairs")
echo "pairs: $n ($pairs)"
echo "python (jieba+rouge_chinese+nltk): $(echo "$t1 - $t0" | bc) s wall; $(tail -n 1 "$tmp/py.err")"
echo "rouge-zh, all threads:             $(echo "$t2 - $t1" | bc) s wall; $(grep -o 'read.*' "$tmp/c.err")"
echo "rouge-zh, 1 thread:                $(echo "$t3 - $t2" | bc) s wall; $(grep -o 'read.*' "$tmp/c1.err")"
echo "rouge-zh --char, 1 thread:         $(echo "$t4 - $t3" | bc) s wall"
if cmp -s "$tmp/py.json" "$tmp/c.json" && cmp -s "$tmp/py.json" "$tmp/c1.json"; then
	echo "outputs identical: $(cat "$tmp/c.json")"
else
	echo "OUTPUTS DIFFER:"; cat "$tmp/py.json" "$tmp/c.json" "$tmp/c1.json"; exit 1
fi
echo "speed ratio (python / rouge-zh, whole runs): all threads $(echo "scale=1; ($t1 - $t0) / ($t2 - $t1)" | bc)x, 1 thread $(echo "scale=1; ($t1 - $t0) / ($t3 - $t2)" | bc)x"
