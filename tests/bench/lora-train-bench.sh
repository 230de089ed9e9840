#!/bin/sh
# lora-train speed and peak memory against PyTorch + PEFT on the CPU: one optimizer step of a
# block of T = 512 tokens on a random SmolLM2-135M-shaped f32 model, LoRA r 16 (alpha 32) on
# all linear modules, AdamW, clipping 1.0, same threads; each side with gradient checkpointing
# of every layer and without (ours: --checkpointing, and the default --activation-memory auto,
# which keeps every layer of this model); ours also with --activation-memory 80M, which keeps
# every layer's attention output and the residual after it (71 MiB here) and recomputes the rest.
#   tests/bench/lora-train-bench.sh   (repository root, after `make`; THREADS, STEPS, ROUNDS,
#   TMPDIR, BF16)
# BF16=1: the same five configurations in bf16, ours with --bf16 (the frozen base's products on
# AVX512_BF16 where the CPU has it), PyTorch's forward under torch.autocast("cpu", bf16), the
# FLOP shares against torch's bf16 GEMM rate.
# The fixture is made once under ${TMPDIR:-/tmp}/qt-train-bench. Each side runs STEPS steps
# (default 3) in one process; tokens/s = trained tokens (511 per block) per second over steps
# 2..STEPS (step 1 is warm-up); peak RSS is the whole process's (/usr/bin/time %M). ROUNDS
# (default 1) runs the five configurations that many times in turn and keeps each one's best
# rate (this VM's rates move by 10-20% from minute to minute, both sides alike). Both
# sides' model FLOP rates are also given as a share of the SGEMM rate torch measures on the
# same threads. Needs numpy, torch, transformers, peft and xxhash in PYTHON (exit 69 naming
# the one missing). On a shared machine run it whole under one nice level and note the load.
set -e
py=${PYTHON:-/work/venv-ref/bin/python}
bin=${BIN:-bin}
dir=${TMPDIR:-/tmp}/qt-train-bench
threads=${THREADS:-$(nproc)}
steps=${STEPS:-3}
rounds=${ROUNDS:-1}
bf16=${BF16:-0}
ours_bf16= peft_bf16= kind=f32
[ "$bf16" = 1 ] && ours_bf16=--bf16 peft_bf16=bf16 kind=bf16
# The reference side's packages, checked first: a missing one is named here instead of
# surfacing as an empty figure (the fixture maker's output used to be thrown away).
if ! err=$("$py" -c 'import numpy, torch, transformers, peft, xxhash' 2>&1); then
	printf '%s: %s cannot import the reference packages (numpy torch transformers peft xxhash):\n%s\n' \
		"$0" "$py" "$(printf '%s\n' "$err" | tail -n 1)" >&2
	echo "install them (e.g. $py -m pip install xxhash) or set PYTHON" >&2
	exit 69
fi
if [ ! -f "$dir/train.pack" ]; then
	mkdir -p "$dir"
	"$py" tests/bench/lora-train-bench.py make-fixture "$dir" >/dev/null ||
		{ echo "$0: making the fixture in $dir failed" >&2; rm -f "$dir/train.pack"; exit 1; }
fi
# ours: tokens/s over steps 2..N (elapsed at step k = tokens_k / tokens_per_s_k), peak RSS KiB
ours_run() {
	rm -rf "$dir/out"
	rss=$(/usr/bin/time -f '%M' "$bin/lora-train" -m "$dir/base" --train "$dir/train.pack" \
		-o "$dir/out" --rank 16 --alpha 32 --schedule constant --max-steps "$steps" \
		--threads "$threads" --quiet $ours_bf16 "$@" 2>&1 | tail -n 1)
	rate=$(sed 's/[{}"]//g; s/[a-z_]*://g; s/,/ /g' "$dir/out/log.jsonl" |
		awk 'NR == 1 { t1 = $5; e1 = $5 / $6 } { t = $5; e = $5 / $6 } END { printf "%.3f", (t - t1) / (e - e1) }')
	echo "$rate $rss"
}
# PyTorch + PEFT: tokens/s and peak RSS KiB
peft_run() {
	line=$(THREADS=$threads /usr/bin/time -f 'rss %M' "$py" tests/bench/lora-train-bench.py peft "$dir" "$steps" "$@" $peft_bf16 2>&1 | grep -v Warning)
	tp=$(printf '%s\n' "$line" | grep -E '^[0-9.]+$' | tail -n 1)
	[ -n "$tp" ] || { printf '%s: the PyTorch + PEFT side printed no rate:\n%s\n' "$0" "$line" >&2; exit 1; }
	echo "$tp $(printf '%s\n' "$line" | sed -n 's/^rss //p' | tail -n 1)"
}
# best "rate rss" of two: the higher rate, and its RSS
best() { [ -z "$1" ] && echo "$2" || echo "$1 $2" | awk '{ print ($3 > $1 ? $3 " " $4 : $1 " " $2) }'; }
o_ck= o_attn= o_auto= p_ck= p_all= gemm=0
r=0
while [ "$r" -lt "$rounds" ]; do
	o_ck=$(best "$o_ck" "$(ours_run --checkpointing)")
	o_attn=$(best "$o_attn" "$(ours_run --activation-memory 80M)")
	o_auto=$(best "$o_auto" "$(ours_run)")
	p_ck=$(best "$p_ck" "$(peft_run)")
	p_all=$(best "$p_all" "$(peft_run no-checkpointing)")
	g=$(THREADS=$threads "$py" tests/bench/lora-train-bench.py sgemm $peft_bf16)
	gemm=$(echo "$gemm $g" | awk '{ print ($2 > $1 ? $2 : $1) }')
	r=$((r + 1))
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# Model FLOPs per trained token (issue 22's count): forward 0.27 GFLOP (linears 0.21, lm_head
# 0.06), input-gradient backward 0.27, recompute under checkpointing 0.21, dense causal
# attention ~0.14 (work either side skips counts in its favour: 0.89 whether or not it
# recomputes).
echo "$o_ck $o_auto $p_ck $p_all $o_attn" | awk -v th="$threads" -v g="$gemm" -v rounds="$rounds" -v kind="$kind" '{
	f = 0.89
	split("qlora-tools, --checkpointing|qlora-tools, default (auto)|PyTorch + PEFT, checkpointing|PyTorch + PEFT, no checkpointing|qlora-tools, attention kept (80M)", name, "|")
	printf "lora-train, SmolLM2-135M-shaped f32 base, %s compute, T=512, LoRA r16 all-linear, %d threads, best of %d rounds\n", kind, th, rounds
	for (i = 1; i <= 5; i++)
		printf "  %-34s %7.1f trained tokens/s  %5.1f%% of GEMM  peak RSS %6.0f MiB\n", \
			name[i], $(2 * i - 1), 100 * $(2 * i - 1) * f / g, $(2 * i) / 1024
	printf "  ratio, both checkpointing:          %.2fx\n", $1 / $5
	printf "  ratio, ours attention kept / PyTorch ckpt: %.2fx (both recompute the layers)\n", $9 / $5
	printf "  ratio, ours default / PyTorch ckpt: %.2fx (the QLoRA recipes checkpoint)\n", $3 / $5
	printf "  ratio, ours default / PyTorch none: %.2fx\n", $3 / $7
	printf "  %s GEMM rate %.1f GFLOP/s (torch 2048^3, %d threads); %.2f model GFLOP per token\n", kind, g, th, f
}'
