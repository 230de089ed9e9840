#!/bin/sh
# First run on a GPU (an H200) on 2026-12-04 through tests/gpu/check.sh, which calls it with
# PARITY=0 PAR=1; figures in kernels/cuda/README.
#
# The one-go GPU check of the CUDA backend, on a machine with an NVIDIA GPU (compute capability
# >= 8.0) and a build made there with nvcc (`make`; BUILD and BIN as given to it):
#   0. the parity tests, `make check T="tests/kernels/cuda tests/kernels/model/test_lora_table.c"`:
#      every CUDA op against its CPU twin (attention with Gemma-2's scale and soft caps and
#      head dims up to 256, the prefix attention, soft cap backward, the soft-capped LM head
#      and token accuracy, ...) and the model code over both tables (every family, Gemma-2 at
#      head_dim 256, LoRA and prefix training blocks with the projection and dropout, decode
#      with a prefix); PARITY=0 skips it, E2E=0 stops after it (no model needed then);
#   1. lora-train, STEPS (default 50) steps, --device cuda vs --device cpu, on the f32-loaded
#      base (fp32 SGEMM on the GPU) and on its NF4 quantization (bf16 GEMMs with fp32
#      accumulation on the GPU): every logged loss and grad_norm within TOL (default 1e-2,
#      relative) of the CPU's, i.e. bf16 tolerance;
#   2. checkpoints are device-independent: the GPU run's checkpoint at STEPS/2 resumed with
#      --device cpu tracks the GPU run's remaining losses within TOL;
#   3. gen, greedy, f32 weights, base and base + the CPU run's adapter, --batch 4: the
#      generated token ids on the GPU equal the CPU's exactly;
#   4. prefix tuning (issue 18) on the GPU: lora-train --method prefix, PSTEPS (default 20)
#      steps with the projection MLP and --prefix-dropout 0.1, and with --prefix-positions 0,
#      cuda vs cpu within TOL; gen --adapter with each CPU run's prefix adapter: greedy ids
#      equal on both devices.
# Usage (repository root): tests/bench/cuda-e2e.sh
#   env: QT_MODEL_DIR (default models/SmolLM2-135M-Instruct), STEPS, PSTEPS, SEQ (default
#        256), TOL, THREADS, BUILD (default build), BIN (default bin), PARITY (default 1),
#        E2E (default 1), TMPDIR; PAR=1 runs each CPU and GPU training pair at once (the CPU
#        one with THREADS, the GPU one with 2); GPUDEV (default cuda) names the device of the
#        "cuda" side, so GPUDEV=cpu rehearses the script on a machine without a GPU.
#        Exit 0 when every check passes, 1 otherwise.
set -eu
model=${QT_MODEL_DIR:-models/SmolLM2-135M-Instruct}
bin=${BIN:-bin}
build=${BUILD:-build}
steps=${STEPS:-50}
psteps=${PSTEPS:-20}
seq=${SEQ:-256}
tol=${TOL:-1e-2}
threads=${THREADS:-$(nproc)}
dir=${TMPDIR:-/tmp}/qt-cuda-e2e
half=$((steps / 2))
gpudev=${GPUDEV:-cuda}
dev() { if [ "$1" = cuda ]; then echo "$gpudev"; else echo "$1"; fi; }
[ "${E2E:-1}" = 0 ] || [ -f "$model/config.json" ] ||
	{ echo "cuda-e2e: no model at $model (make model)" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

if [ "${PARITY:-1}" != 0 ]; then
	make BUILD="$build" BIN="$bin" check \
		T="tests/kernels/cuda tests/kernels/model/test_lora_table.c" > "$dir/parity.log" 2>&1 ||
		bad "parity tests (tests/kernels/cuda): see $dir/parity.log"
	! grep -q 'skipped)' "$dir/parity.log" ||
		bad "parity tests skipped checks: no usable GPU? ($dir/parity.log)"
	grep -E '^(ok|FAIL|    )|passed' "$dir/parity.log"
fi
if [ "${E2E:-1}" = 0 ]; then
	[ "$fail" -eq 0 ] && echo "cuda-e2e: parity tests passed (E2E=0: nothing else run)"
	exit "$fail"
fi

# data: synthetic ADGEN records, chat-formatted and packed for the model's tokenizer
"$bin/adgen-data" 11 400 > "$dir/train.jsonl"
"$bin/adgen-data" 12 8 > "$dir/eval.jsonl"
"$bin/tok-chatml" -q -t "$model/tokenizer.json" --prompt-key content --response-key summary \
	-o "$dir/train.tok" "$dir/train.jsonl"
"$bin/pack" -q --seq-len "$seq" --seed 42 -o "$dir/train.pack" "$dir/train.tok"
"$bin/quantize-nf4" --quiet -o "$dir/base-nf4" "$model"

train() { # name base device [options]: LoRA r8 unless the options say otherwise
	n=$1 b=$2 d=$3
	shift 3
	[ $# -gt 0 ] || set -- --rank 8 --alpha 16 --lr 2e-4 --max-steps "$steps" --save-every "$half"
	th=$threads
	[ "$d" = cuda ] && d=$gpudev && [ "${PAR:-0}" = 1 ] && th=2
	"$bin/lora-train" -m "$b" --train "$dir/train.pack" -o "$dir/$n" --threads "$th" \
		--device "$d" "$@" 2> "$dir/$n.err" || { cat "$dir/$n.err"; exit 1; }
	if [ "$d" = cuda ] && grep -q 'no CUDA device' "$dir/$n.err"; then
		cat "$dir/$n.err"
		echo "cuda-e2e: no usable GPU: nothing to compare" >&2
		exit 1
	fi
}

# step, loss and grad_norm of each training line of a log.jsonl
curve() { grep '"loss"' "$1" | sed 's/.*"step":\([0-9]*\),"loss":\([0-9.e+-]*\),.*"grad_norm":\([0-9.e+-]*\),.*/\1 \2 \3/'; }

# compare CPU_LOG GPU_LOG LABEL [FIRST_STEP]: loss and grad_norm per step within tol
compare() {
	curve "$1" > "$dir/a"
	curve "$2" > "$dir/b"
	awk -v tol="$tol" -v lab="$3" -v first="${4:-1}" '
		function rel(x, y) { d = x - y; if (d < 0) d = -d; m = y < 0 ? -y : y; return d / (m > 1e-12 ? m : 1e-12) }
		NR == FNR { L[$1] = $2; G[$1] = $3; next }
		$1 >= first && ($1 in L) { n++; l = rel($2, L[$1]); g = rel($3, G[$1])
		  if (l > ml) ml = l; if (g > mg) mg = g }
		END { printf "%s: %d steps, max rel diff loss %.3g, grad_norm %.3g (tol %g)\n", lab, n, ml, mg, tol
		      exit !(n > 0 && ml <= tol && mg <= tol) }' "$dir/a" "$dir/b" || bad "$3"
}

for base in f32 nf4; do
	b=$model
	[ "$base" = nf4 ] && b=$dir/base-nf4
	if [ "${PAR:-0}" = 1 ]; then
		train "cpu-$base" "$b" cpu &
		train "cuda-$base" "$b" cuda
		wait $! || bad "train cpu-$base"
	else
		train "cpu-$base" "$b" cpu
		train "cuda-$base" "$b" cuda
	fi
	compare "$dir/cpu-$base/log.jsonl" "$dir/cuda-$base/log.jsonl" "train $base, cuda vs cpu"
done

# a GPU checkpoint resumed on the CPU
cp -r "$dir/cuda-f32" "$dir/resumed"
rm -rf "$dir/resumed/adapter" "$dir/resumed/checkpoint-$steps"
"$bin/lora-train" -m "$model" --train "$dir/train.pack" --resume "$dir/resumed/checkpoint-$half" \
	--rank 8 --alpha 16 --lr 2e-4 --max-steps "$steps" --save-every "$half" \
	--threads "$threads" --device cpu --quiet || bad "resume of a GPU checkpoint on the CPU"
compare "$dir/cuda-f32/log.jsonl" "$dir/resumed/log.jsonl" "GPU checkpoint resumed on the CPU" \
	$((half + 1))

# greedy generation on f32 weights: identical ids
for a in "" "--adapter $dir/cpu-f32/adapter"; do
	for d in cpu cuda; do
		# shellcheck disable=SC2086
		"$bin/gen" -q -m "$model" $a --prompt-key content --label-key summary --greedy \
			--max-new-tokens 64 --batch 4 --ids --threads "$threads" --device "$(dev "$d")" \
			-o "$dir/gen-$d.jsonl" "$dir/eval.jsonl" || bad "gen --device $d $a"
	done
	lab="gen greedy f32${a:+ + adapter}"
	if cmp -s "$dir/gen-cpu.jsonl" "$dir/gen-cuda.jsonl"; then
		echo "$lab: $(wc -l < "$dir/gen-cpu.jsonl") predictions identical"
	else
		bad "$lab: predictions differ"
		diff "$dir/gen-cpu.jsonl" "$dir/gen-cuda.jsonl" | head -6
	fi
done

# prefix tuning on the GPU: training curves, then greedy generation with the prefix adapters
for v in proj pos0; do
	set -- --method prefix --virtual-tokens 16 --lr 2e-3 --max-steps "$psteps"
	if [ "$v" = proj ]; then
		set -- "$@" --prefix-projection --prefix-hidden 64 --prefix-dropout 0.1
	else
		set -- "$@" --prefix-positions 0
	fi
	if [ "${PAR:-0}" = 1 ]; then
		train "cpu-prefix-$v" "$model" cpu "$@" &
		train "cuda-prefix-$v" "$model" cuda "$@"
		wait $! || bad "train cpu-prefix-$v"
	else
		train "cpu-prefix-$v" "$model" cpu "$@"
		train "cuda-prefix-$v" "$model" cuda "$@"
	fi
	compare "$dir/cpu-prefix-$v/log.jsonl" "$dir/cuda-prefix-$v/log.jsonl" \
		"train prefix ($v), cuda vs cpu"
	for d in cpu cuda; do
		"$bin/gen" -q -m "$model" --adapter "$dir/cpu-prefix-$v/adapter" --prompt-key content \
			--label-key summary --greedy --max-new-tokens 64 --batch 4 --ids \
			--threads "$threads" --device "$(dev "$d")" -o "$dir/gen-$d.jsonl" "$dir/eval.jsonl" ||
			bad "gen --device $d --adapter (prefix $v)"
	done
	if cmp -s "$dir/gen-cpu.jsonl" "$dir/gen-cuda.jsonl"; then
		echo "gen greedy f32 + prefix adapter ($v): $(wc -l < "$dir/gen-cpu.jsonl") predictions identical"
	else
		bad "gen greedy f32 + prefix adapter ($v): predictions differ"
		diff "$dir/gen-cpu.jsonl" "$dir/gen-cuda.jsonl" | head -6
	fi
done

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$fail" -eq 0 ] && echo "cuda-e2e: all checks passed"
exit "$fail"
