#!/bin/sh
# The prepared GPU check of the CUDA backend (issue 20), in one call on a lent GPU machine
# (an H200 here: nvcc, PyTorch, transformers and PEFT there; no bitsandbytes, none of our
# Debian libraries, nothing to download). tests/gpu/carry.sh builds and packs everything it
# runs beforehand, here; this script builds nothing. Phases, in order (PHASES picks some):
#   env       the card, the driver, the CPU; which of our libraries resolve
#   parity    every CUDA op test and the model-code tests over both backend tables
#             (build-gpu/tests/kernels/cuda/test_*, test_lora_table): each op and shape against
#             the CPU backend, NMSE and max relative error, guard bytes around outputs
#   models    random models in SmolLM2-135M's and a ~1.2B Llama's shapes (make-models.py),
#             the 1.2B also quantized to NF4
#   e2e-tiny  tests/bench/cuda-e2e.sh on tests/data/sft-tiny: lora-train CUDA vs CPU on f32 and
#             NF4 bases (loss and grad norm per step within TOL), a GPU checkpoint resumed on
#             the CPU, gen greedy ids equal, prefix tuning CUDA vs CPU
#   speed     lora-train tokens/s and peak GPU memory (nvidia-smi, sampled) at T=SPEED_T, r16
#             all-linear, checkpointing on and off, NF4 and f32 bases, on both shapes; PyTorch +
#             PEFT bf16 LoRA on the same shapes (peer.py); MFU against the bf16 matrix rate
#             measured here; gen decode tokens/s at batch 1 against the measured copy bandwidth
#   e2e       cuda-e2e.sh on the default-shaped model (STEPS steps)
#   sanitize  compute-sanitizer memcheck over a few op tests
# Each command has a time limit, phases are skipped once DEADLINE seconds have passed and no
# command runs past HARD seconds, so the call returns its logs: OUTDIR/summary.txt (also
# printed) and OUTDIR/logs.tgz.
# Usage (repository root, on the GPU machine): sh tests/gpu/check.sh OUTDIR
#   env: PHASES, DEADLINE (default 500), HARD (560), STEPS (50), SPEED_T (2048), SPEED_STEPS (8),
#        GPUDEV (cuda; cpu rehearses everything but the GPU on a machine without one),
#        SMALL=1 (a 2-layer '1b' for rehearsals), THREADS (default: all cores)
set -u
out=${1:?usage: check.sh OUTDIR}
top=$(pwd)
work=${TMPDIR:-/tmp}/qt-gpu
phases=${PHASES:-env parity models e2e-tiny speed e2e sanitize}
deadline=${DEADLINE:-500}
hard=${HARD:-560}
gpudev=${GPUDEV:-cuda}
threads=${THREADS:-$(nproc)}
speed_t=${SPEED_T:-2048}
speed_steps=${SPEED_STEPS:-8}
t0=$(date +%s)
mkdir -p "$out" "$work/logs"
sum=$out/summary.txt
: > "$sum"
say() { echo "$*" | tee -a "$sum"; }
elapsed() { echo $(($(date +%s) - t0)); }
pack_logs() { tar -czf "$out/logs.tgz" -C "$work" logs 2>/dev/null; }

# the carried build: tools, tests and the libraries the GPU machine lacks
x=$top/gpu-carry/x
if [ ! -d "$x/bin-gpu" ]; then
	mkdir -p "$x"
	{ command -v xz > /dev/null && xz -dc gpu-carry/qt-gpu.tar.xz | tar -xf - -C "$x"; } ||
		python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
			gpu-carry/qt-gpu.tar.xz "$x" ||
		{ say "check: cannot unpack gpu-carry/qt-gpu.tar.xz (run tests/gpu/carry.sh here first)"; exit 1; }
fi
bin=gpu-carry/x/bin-gpu
build=gpu-carry/x/build-gpu
# our libraries first; CUDA's from the binaries' run path (/usr/local/cuda/lib64), else from
# the first place that has cuBLAS (the toolkit's, then the Python wheels'); cuBLAS is opened
# with dlopen (kernels/cuda/device.cu), so ldd does not show it missing
export LD_LIBRARY_PATH="$x/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ldd "$bin/lora-train" | grep -q 'not found' || [ ! -e /usr/local/cuda/lib64/libcublas.so.13 ]; then
	for d in /usr/local /opt /usr/lib; do
		c=$(find "$d" -xdev -name 'libcublas.so.13' 2>/dev/null | head -n 1)
		[ -n "$c" ] && { LD_LIBRARY_PATH="$LD_LIBRARY_PATH:${c%/*}"; break; }
	done
	c=$(find /usr/local /opt /usr/lib -xdev -name 'libcudart.so.13' 2>/dev/null | head -n 1)
	[ -n "$c" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:${c%/*}"
fi
export PYTHONUNBUFFERED=1

# run NAME LIMIT CMD...: CMD's output to logs/NAME.log, a status line in the summary; the
# limit shrinks to what is left before HARD, and nothing starts with under 10 s left
run() {
	n=$1 lim=$2
	shift 2
	left=$((hard - $(elapsed) - 15))
	if [ "$left" -lt 10 ]; then
		say "$(printf '%-34s not run: %ss left' "$n" "$left")"
		return 124
	fi
	[ "$left" -lt "$lim" ] && lim=$left
	s=$(date +%s)
	timeout "$lim" "$@" > "$work/logs/$n.log" 2>&1
	rc=$?
	say "$(printf '%-34s rc %-3s %4ss' "$n" "$rc" "$(($(date +%s) - s))")"
	return $rc
}

# gpupeak NAME LIMIT CMD...: run, sampling the card's used memory; the peak goes to NAME.mem
gpupeak() {
	n=$1
	( while :; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null
		sleep 0.2; done ) > "$work/logs/$n.memtrace" &
	p=$!
	run "$@"
	rc=$?
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	sort -n "$work/logs/$n.memtrace" | tail -n 1 > "$work/logs/$n.mem"
	return $rc
}

phase_env() {
	{
		nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem \
			--format=csv 2>&1
		nvcc --version 2>&1 | tail -n 2
		grep -m1 'model name' /proc/cpuinfo
		echo "cores $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
		python3 -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)' 2>&1
		echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
		ldd "$bin/lora-train" | grep -E 'not found|cublas|cudart|nccl|openblas'
		"$bin/lora-train" --version
		command -v compute-sanitizer
	} > "$work/logs/env.log" 2>&1
	cat "$work/logs/env.log" | tee -a "$sum"
}

phase_parity() {
	ls "$build"/tests/kernels/cuda/test_* "$build"/tests/kernels/model/test_lora_table |
		grep -v '\.d$' > "$work/parity.list"
	# several at once: each is mostly CPU reference work beside short kernels
	xargs -P 6 -I{} sh -c 't={}; n=$(basename $t); timeout 150 $t > '"$work"'/logs/parity-$n.log 2>&1;
		echo "$? $n" >> '"$work"'/parity.rc' < "$work/parity.list"
	sort -k2 "$work/parity.rc" | while read -r rc n; do
		l=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$work/logs/parity-$n.log" | tail -n 1)
		sk=$(grep -E '^[0-9]+ skipped$' "$work/logs/parity-$n.log" | tail -n 1)
		say "$(printf 'parity %-28s rc %-3s %s %s' "$n" "$rc" "$l" "$sk")"
		grep -E '^(FAIL|SKIP)' "$work/logs/parity-$n.log" | head -n 8 | sed 's/^/    /' | tee -a "$sum"
	done
}

phase_models() {
	if [ -f "$work/models/1b-nf4/config.json" ] && [ -f "$work/models/default-nf4/config.json" ]; then
		say "models: made by an earlier call on this machine"
		return
	fi
	run make-models 240 python3 tests/gpu/make-models.py gpu-carry/model "$work/models" "${SMALL:-0}" &&
		run quantize-1b 120 "$bin/quantize-nf4" --quiet -o "$work/models/1b-nf4" "$work/models/1b" &&
		run quantize-default 60 "$bin/quantize-nf4" --quiet -o "$work/models/default-nf4" \
			"$work/models/default"
	du -sh "$work"/models/* | tee -a "$sum"
}

# e2e NAME MODEL LIMIT STEPS PSTEPS
e2e() {
	QT_MODEL_DIR=$2 BIN=$bin BUILD=$build PARITY=0 PAR=1 GPUDEV=$gpudev STEPS=$4 PSTEPS=$5 \
		THREADS=$threads TMPDIR=$work/$1 run "$1" "$3" sh tests/bench/cuda-e2e.sh
	grep -E '^(FAIL|train|GPU|gen|cuda-e2e)' "$work/logs/$1.log" | tee -a "$sum"
	for f in "$work/$1"/qt-cuda-e2e/*/log.jsonl; do
		[ -f "$f" ] && cp "$f" "$work/logs/$1-$(basename "$(dirname "$f")").jsonl"
	done
}

# steady tokens/s of a lora-train log.jsonl, from its third line on (warm-up excluded)
steady() {
	sed 's/.*"input_tokens":\([0-9]*\),"input_tokens_per_s":\([0-9.]*\).*/\1 \2/' "$1" |
		awk '{ el = $2 > 0 ? $1 / $2 : 0; n++; if (n == 2) { a = $1; t = el } last = $1; lt = el }
		     END { if (lt > t) printf "%.0f", (last - a) / (lt - t); else print 0 }'
}

phase_speed() {
	run ceilings 90 python3 tests/gpu/peer.py ceilings
	cat "$work/logs/ceilings.log" | tee -a "$sum"
	bf16=$(sed -n 's/.*"bf16_matmul".*"tflops": \([0-9.]*\).*/\1/p' "$work/logs/ceilings.log")
	bw=$(sed -n 's/.*"copy".*"gb_per_s": \([0-9.]*\).*/\1/p' "$work/logs/ceilings.log")
	mkdir -p "$work/speed"
	"$bin/adgen-data" 21 4000 > "$work/speed/train.jsonl"
	for m in default 1b; do
		[ -d "$work/models/$m" ] || continue
		"$bin/tok-chatml" -q -t "$work/models/$m/tokenizer.json" --prompt-key content \
			--response-key summary -o "$work/speed/$m.tok" "$work/speed/train.jsonl" &&
			"$bin/pack" -q --seq-len "$speed_t" --seed 42 -o "$work/speed/$m.pack" "$work/speed/$m.tok"
		fpt=$(python3 -c "
import json; c = json.load(open('$work/models/$m/config.json'))
h, L, i, V = c['hidden_size'], c['num_hidden_layers'], c['intermediate_size'], c['vocab_size']
hd = c.get('head_dim') or h // c['num_attention_heads']
q, kv = c['num_attention_heads'] * hd, c['num_key_value_heads'] * hd
n = L * (h * q + 2 * h * kv + q * h + 3 * h * i) + V * h
# frozen base, LoRA: forward 2N + input gradients 2N; causal attention 6 T d per layer
print(4 * n + 6 * L * $speed_t * q)")
		for base in nf4 f32; do
			b=$work/models/$m
			[ "$base" = nf4 ] && b=$work/models/$m-nf4
			for ck in on off; do
				[ "$base" = f32 ] && [ "$ck" = off ] && continue
				f=--checkpointing
				[ "$ck" = off ] && f=--no-checkpointing
				n=ours-$m-$base-ckpt$ck
				gpupeak "$n" 120 "$bin/lora-train" -m "$b" --train "$work/speed/$m.pack" \
					-o "$work/speed/$n" --rank 16 --alpha 32 --max-steps "$speed_steps" $f \
					--threads 4 --device "$gpudev" --log-every 1
				cp "$work/speed/$n/log.jsonl" "$work/logs/$n.jsonl" 2>/dev/null
				tps=$(steady "$work/speed/$n/log.jsonl" 2>/dev/null)
				say "$(awk -v n="$n" -v t="${tps:-0}" -v f="$fpt" -v r="${bf16:-0}" -v mem="$(cat "$work/logs/$n.mem")" \
					'BEGIN { printf "  %-28s %8.0f tokens/s  %6.1f TFLOP/s  MFU %5.1f%%  peak GPU %s MiB\n", n, t, t * f / 1e12, (r > 0 ? 100 * t * f / 1e12 / r : 0), mem }')"
			done
		done
		gpupeak "peft-$m" 300 python3 tests/gpu/peer.py train "$work/models/$m" "$speed_t" "$speed_steps"
		grep '"peft_train"' "$work/logs/peft-$m.log" | while read -r l; do
			say "$(echo "$l" | python3 -c "
import json, sys; d = json.loads(sys.stdin.read()); f = $fpt; r = float('${bf16:-0}' or 0)
t = d['tokens_per_s']
print('  %-28s %8.0f tokens/s  %6.1f TFLOP/s  MFU %5.1f%%  peak alloc %.0f MiB, reserved %.0f MiB' % (
    'peft-$m-bf16-ckpt' + ('on' if d['checkpointing'] else 'off'), t, t * f / 1e12,
    100 * t * f / 1e12 / r if r else 0, d['peak_allocated_mib'], d['peak_reserved_mib']))")"
		done
		say "  (peft-$m: nvidia-smi peak over both runs $(cat "$work/logs/peft-$m.mem") MiB)"
	done
	# decode at batch 1: a long and a short generation, so load and prefill cancel
	m=$work/models/1b-nf4
	[ -d "$m" ] || return
	echo '{"content": "Write a long story about a lighthouse keeper and the sea.", "summary": ""}' > "$work/speed/p.jsonl"
	for new in 16 272; do
		s=$(date +%s.%N)
		run "gen-1b-nf4-$new" 120 "$bin/gen" -m "$m" --prompt-key content --max-new-tokens "$new" \
			--batch 1 --device "$gpudev" --threads 4 -o "$work/speed/g$new.jsonl" "$work/speed/p.jsonl"
		e=$(date +%s.%N)
		echo "$s $e $(sed -n 's/.*"new_tokens": *\([0-9]*\).*/\1/p' "$work/speed/g$new.jsonl")" > "$work/speed/g$new.t"
	done
	wbytes=$(python3 -c "
import json, struct, glob
n = 0
for f in glob.glob('$m/*.safetensors'):
    with open(f, 'rb') as fh:
        h = json.loads(fh.read(struct.unpack('<Q', fh.read(8))[0]))
    n += sum(v['data_offsets'][1] - v['data_offsets'][0] for k, v in h.items()
             if k != '__metadata__' and 'embed_tokens' not in k)
print(n)")
	say "$(cat "$work/speed/g16.t" "$work/speed/g272.t" | awk -v b="$wbytes" -v bw="${bw:-0}" '
		NR == 1 { t1 = $2 - $1; n1 = $3 } NR == 2 { t2 = $2 - $1; n2 = $3 }
		END { if (t2 > t1 && n2 > n1) { r = (n2 - n1) / (t2 - t1)
		      printf "  gen 1b-nf4 decode, batch 1: %.1f tokens/s, %.0f GB/s of weights (%.2f GB/token) = %.1f%% of the copy bandwidth %.0f GB/s\n", r, r * b / 1e9, b / 1e9, (bw > 0 ? 100 * r * b / 1e9 / bw : 0), bw }
		      else print "  gen 1b-nf4 decode: no figure (see gen-1b-nf4-*.log)" }')"
	run hf-decode-1b 120 python3 tests/gpu/peer.py decode "$work/models/1b" 256
	cat "$work/logs/hf-decode-1b.log" | grep hf_decode | tee -a "$sum"
}

phase_sanitize() {
	cs=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -n 1)
	[ -n "$cs" ] || { say "sanitize: no compute-sanitizer"; return; }
	for t in matmul rmsnorm nf4 cross_entropy attention; do
		run "memcheck-$t" 60 "$cs" --tool memcheck --error-exitcode 9 \
			"$build/tests/kernels/cuda/test_cuda_$t"
		grep -E 'ERROR SUMMARY|^[0-9]+ passed' "$work/logs/memcheck-$t.log" | tail -n 2 | sed 's/^/    /' |
			tee -a "$sum"
	done
}

for p in $phases; do
	if [ "$(elapsed)" -ge "$deadline" ]; then
		say "== $p: skipped (past the ${deadline}s deadline)"
		continue
	fi
	say "== $p (at $(elapsed)s)"
	case $p in
	env) phase_env ;;
	parity) phase_parity ;;
	models) phase_models ;;
	e2e-tiny) e2e e2e-tiny "$work/models/tiny" 120 20 10 ;;
	speed) phase_speed ;;
	e2e) e2e e2e-default "$work/models/default" 240 "${STEPS:-50}" 20 ;;
	sanitize) phase_sanitize ;;
	*) say "unknown phase $p" ;;
	esac
	pack_logs
done
say "== done in $(elapsed)s"
pack_logs
