#!/bin/sh
# rouge-zh against the Python pipeline it reproduces (jieba + rouge_chinese + nltk + numpy, the
# ChatGLM compute_metrics), on the same pairs, in one run; prints both times and the ratios.
#   sh tests/bench/rouge-zh-bench.sh [pairs.jsonl]      (from the repository root, after make)
# Default pairs: tests/data/rouge_pairs.jsonl (2,500 generated pairs, tests/ref/rouge_pairs.py).
# PYTHON (default /work/venv-ref/bin/python) must have jieba, rouge_chinese, nltk, numpy.
# Each whole run is timed by /usr/bin/time: wall seconds and CPU seconds (user + sys). On a
# loaded machine the CPU ratio is the meaningful one; rouge-zh is timed with one thread too.
# SHORT=1 keeps only pairs whose texts are both under 300 characters (rouge_chinese's
# dictionary-based LCS makes the Python side very slow on the few long texts of the default set).
# One untimed rouge-zh run first builds its dictionary cache, as jieba's own cache
# (/tmp/jieba.cache) is built by its first run.
set -e
pairs=${1:-tests/data/rouge_pairs.jsonl}
py=${PYTHON:-/work/venv-ref/bin/python}
bin=${BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "$SHORT" ]; then
	"$py" -c 'import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    d = json.loads(l)
    if len(d["predict"]) < 300 and len(d["labels"]) < 300: sys.stdout.write(l)' "$pairs" > "$tmp/pairs.jsonl"
	pairs=$tmp/pairs.jsonl
fi
"$bin/rouge-zh" --threads 1 "$pairs" > /dev/null
"$py" -c 'import jieba; jieba.setLogLevel(60); jieba.initialize()'
run() { # name command...: times one run into $tmp/name.t ("wall cpu")
	name=$1; shift
	/usr/bin/time -f '%e %U %S' -o "$tmp/$name.raw" "$@" > "$tmp/$name.json" 2> "$tmp/$name.err"
	awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$tmp/$name.raw" > "$tmp/$name.t"
}
run py "$py" tests/bench/rouge-zh-bench.py "$pairs"
run c "$bin/rouge-zh" --progress "$pairs"
run c1 "$bin/rouge-zh" --progress --threads 1 "$pairs"
run ch "$bin/rouge-zh" --char --threads 1 "$pairs"
show() { printf '%-36s %8s s wall %8s s cpu   %s\n' "$1" $(cat "$tmp/$2.t") "$3"; }
echo "pairs: $(wc -l < "$pairs") ($pairs)"
show "python (jieba+rouge_chinese+nltk):" py "$(tail -n 1 "$tmp/py.err")"
show "rouge-zh, all threads:" c "$(grep -o 'read.*' "$tmp/c.err")"
show "rouge-zh, 1 thread:" c1 "$(grep -o 'read.*' "$tmp/c1.err")"
show "rouge-zh --char, 1 thread:" ch ""
if cmp -s "$tmp/py.json" "$tmp/c.json" && cmp -s "$tmp/py.json" "$tmp/c1.json"; then
	echo "outputs identical: $(cat "$tmp/c.json")"
else
	echo "OUTPUTS DIFFER:"; cat "$tmp/py.json" "$tmp/c.json" "$tmp/c1.json"; exit 1
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / (b > 0.001 ? b : 0.001) }'; }
set -- $(cat "$tmp/py.t") $(cat "$tmp/c.t") $(cat "$tmp/c1.t")
echo "speed ratio python/rouge-zh: wall $(ratio $1 $3)x (all threads), $(ratio $1 $5)x (1 thread);" \
     "cpu $(ratio $2 $6)x (1 thread)"
