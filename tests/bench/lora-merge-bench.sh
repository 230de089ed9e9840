#!/bin/sh
# lora-merge speed against PEFT (load + merge_and_unload + save_pretrained) on a random model
# shaped like the default SmolLM2-135M (bf16 base, LoRA r 16 on all linear modules).
#   tests/bench/lora-merge-bench.sh   (repository root, after `make`; THREADS, TMPDIR optional)
# The fixture is made once under ${TMPDIR:-/tmp}/qt-merge-bench. Times are best of 3 and
# include reading, merging and writing (fsync'd, atomic); GB/s = (tensor bytes read + written)
# / seconds, the rate lora-merge reports; CPU = user + sys seconds of that run (the wall time on
# a busy machine or a slow disk is mostly waiting). Output goes to the input's file system: set
# TMPDIR=/dev/shm to leave the disk out.
set -e
py=${PYTHON:-/work/venv-ref/bin/python}
bin=${BIN:-bin}
dir=${TMPDIR:-/tmp}/qt-merge-bench
threads=${THREADS:-$(nproc)}
[ -d "$dir/adapter" ] || { mkdir -p "$dir"; "$py" tests/bench/lora-merge-bench.py make-fixture "$dir" >/dev/null 2>&1; }
best=
line=
cpu=
for i in 1 2 3; do
	l=$(/usr/bin/time -f 'cpu %U %S' "$bin/lora-merge" --threads "$threads" -m "$dir/base" -a "$dir/adapter" -o "$dir/ours" 2>&1)
	s=$(printf '%s\n' "$l" | sed -n 's/.* in \([0-9.]*\) s, .*/\1/p')
	c=$(printf '%s\n' "$l" | awk '$1 == "cpu" { print $2 + $3 }')
	if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; line=$l; cpu=$c; fi
done
tp=$(THREADS=$threads "$py" tests/bench/lora-merge-bench.py peft "$dir" "$dir/peft" 2>/dev/null | tail -n 1)
bytes=$(stat -c %s "$dir/base/model.safetensors")
printf '%s\n' "$line" | grep -v '^cpu '
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v b="$bytes" -v to="$best" -v tp="$tp" -v th="$threads" -v cpu="$cpu" 'BEGIN {
	printf "lora-merge, SmolLM2-135M-shaped bf16 base (%.0f MB), LoRA r16 all-linear, %d threads\n", b / 1e6, th
	printf "  qlora-tools lora-merge           %8.3f s  %6.2f GB/s read+write  (CPU %.2f s user+sys)\n", to, 2 * b / 1e9 / to, cpu
	printf "  PEFT merge_and_unload + save     %8.3f s  %6.2f GB/s read+write\n", tp, 2 * b / 1e9 / tp
	printf "  ratio (PEFT time / ours): %.2fx\n", tp / to
}'
