#!/bin/sh
# NF4 quantization speed: kernels/nf4 (what quantize-nf4 runs per weight) against bitsandbytes'
# quantize_4bit(nf4, blocksize 64, double quantization) on CPU, same bf16 tensor, same threads.
#   tests/bench/nf4-bench.sh [ROWS] [COLS] [THREADS]   (repository root, after `make`)
# Default 49152 x 1536 (75.5M elements, 151 MB of bf16: about the size of SmolLM2-135M's
# decoder linears). The tensor is written once under ${TMPDIR:-/tmp}/qt-nf4-bench. Times are
# best of 3 and include bf16 -> f32 widening on both sides; input GB/s = bf16 bytes / seconds.
set -e
rows=${1:-49152}
cols=${2:-1536}
threads=${3:-$(nproc)}
py=${PYTHON:-/work/venv-ref/bin/python}
build=${BUILD:-build}
dir=${TMPDIR:-/tmp}/qt-nf4-bench
mkdir -p "$dir"
f=$dir/w-$rows-$cols.bf16
cc -O2 -std=c11 -D_GNU_SOURCE -I. -o "$dir/nf4_bench" tests/bench/nf4_bench.c \
	"$build/libqlora.a" -larchive -lxxhash -ljansson -lpcre2-8 -lutf8proc -lopenblas -lpthread -lm
tb=$("$py" tests/bench/nf4-bench.py "$f" "$rows" "$cols" "$threads" 2>/dev/null | tail -n 1)
to=$("$dir/nf4_bench" "$f" "$threads")
bytes=$(stat -c %s "$f")
awk -v b="$bytes" -v to="$to" -v tb="$tb" -v th="$threads" 'BEGIN {
	printf "nf4 quantize %d bf16 elements, %d threads\n", b / 2, th
	printf "  qlora-tools kernels/nf4  %8.3f s  %6.2f GB/s\n", to, b / 1e9 / to
	printf "  bitsandbytes (CPU)       %8.3f s  %6.2f GB/s\n", tb, b / 1e9 / tb
	printf "  ratio (bitsandbytes time / ours): %.2fx\n", tb / to
}'
