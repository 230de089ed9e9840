#!/bin/sh
# lora-train speed and peak memory against PyTorch + PEFT on the CPU: one optimizer step of a
# block of T = 512 tokens on a random SmolLM2-135M-shaped f32 model, LoRA r 16 (alpha 32) on
# all linear modules, gradient checkpointing on both sides, AdamW, clipping 1.0, same threads.
#   tests/bench/lora-train-bench.sh   (repository root, after `make`; THREADS, STEPS, TMPDIR)
# The fixture is made once under ${TMPDIR:-/tmp}/qt-train-bench. Each side runs STEPS steps
# (default 3) in one process; tokens/s = trained tokens (511 per block) per second over steps
# 2..STEPS (step 1 is warm-up); peak RSS is the whole process's (/usr/bin/time %M).
set -e
py=${PYTHON:-/work/venv-ref/bin/python}
bin=${BIN:-bin}
dir=${TMPDIR:-/tmp}/qt-train-bench
threads=${THREADS:-$(nproc)}
steps=${STEPS:-3}
[ -f "$dir/train.pack" ] || { mkdir -p "$dir"; "$py" tests/bench/lora-train-bench.py make-fixture "$dir" >/dev/null 2>&1; }
rm -rf "$dir/out"
ours_rss=$(/usr/bin/time -f '%M' "$bin/lora-train" -m "$dir/base" --train "$dir/train.pack" \
	-o "$dir/out" --rank 16 --alpha 32 --schedule constant --max-steps "$steps" \
	--threads "$threads" --quiet 2>&1 | tail -n 1)
# elapsed at step k = tokens_k / tokens_per_s_k; rate over steps 2..N
ours=$(sed 's/[{}"]//g; s/[a-z_]*://g; s/,/ /g' "$dir/out/log.jsonl" |
	awk 'NR == 1 { t1 = $5; e1 = $5 / $6 } { t = $5; e = $5 / $6 } END { printf "%.3f", (t - t1) / (e - e1) }')
line=$(THREADS=$threads /usr/bin/time -f 'rss %M' "$py" tests/bench/lora-train-bench.py peft "$dir" "$steps" 2>&1 | grep -v Warning)
tp=$(printf '%s\n' "$line" | grep -E '^[0-9.]+$' | tail -n 1)
tp_rss=$(printf '%s\n' "$line" | sed -n 's/^rss //p' | tail -n 1)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v to="$ours" -v tp="$tp" -v ro="$ours_rss" -v rp="$tp_rss" -v th="$threads" 'BEGIN {
	printf "lora-train, SmolLM2-135M-shaped f32 base, T=512, LoRA r16 all-linear, %d threads\n", th
	printf "  qlora-tools lora-train   %9.1f trained tokens/s   peak RSS %6.0f MiB\n", to, ro / 1024
	printf "  PyTorch + PEFT           %9.1f trained tokens/s   peak RSS %6.0f MiB\n", tp, rp / 1024
	printf "  ratio (ours / PyTorch tokens/s): %.2fx\n", to / tp
}'
