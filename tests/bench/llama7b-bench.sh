#!/bin/sh
# The tools at Llama-2-7B's shapes (issue 22): a random bf16 model (3 shards, made once by
# tests/bench/llama7b-bench.py), then
#   quantize-nf4 of it             time, peak RSS (and its anonymous / mapped-file parts)
#   gen on the NF4 result          1 and 1+N new tokens greedy from one prompt: prefill time,
#                                  decode tokens/s from the difference, peak RSS
#   lora-train, one step           T = 512, LoRA r16 all-linear, checkpointing: time, peak RSS
#   lora-merge                     the adapter of that step into the bf16 base: time, peak RSS
# PEER=1: the Python stack's side of quantize, gen and merge after ours (tests/bench/llama7b-peer.py:
# bitsandbytes NF4, transformers bf16 generate, PEFT merge_and_unload); a PEFT training step
# is not part of it (the f32 model does not fit in 24 GiB).
# Not part of `make test`. Needs ~13 GB of disk for the model, ~4 GB for the NF4 copy, ~13 GB
# transiently for the merged model (deleted at once), and MIN_GB (default 10) GiB available.
#   tests/bench/llama7b-bench.sh   (repository root, after `make`)
# Environment: STAGES (default "quantize gen train merge"; a later stage needs the earlier
# stages' outputs, kept with KEEP=1), DIR (default /work/bench7b; removed at the end unless
# KEEP=1), TRAIN_ARGS (more lora-train options, e.g. --bf16), THREADS (default
# all CPUs), NEW (default 4), STEPS (lora-train steps, default 1), PYTHON (a Python with numpy
# and xxhash: default /work/venv-ref/bin/python), TOKDIR (tokenizer source: default the
# SmolLM2-135M-Instruct model of `make model`, so vocab_size is 49152, not Llama-2's 32000).
# Peak RSS is /usr/bin/time's (exact); its anonymous and mapped-file parts the largest values
# of /proc/PID/status seen, polled every 0.2 s. Under load, wall times mostly measure the other
# processes: CPU times (user + system) are given beside them.
set -eu
py=${PYTHON:-/work/venv-ref/bin/python}
bin=${BIN:-bin}
dir=${DIR:-/work/bench7b}
threads=${THREADS:-$(nproc)}
new=${NEW:-4}
steps=${STEPS:-1}
tokdir=${TOKDIR:-models/SmolLM2-135M-Instruct}
min_gb=${MIN_GB:-10}
stages=${STAGES:-quantize gen train merge}
want() { case " $stages " in *" $1 "*) return 0 ;; esac; return 1; }

avail=$(awk '/^MemAvailable/ { print int($2 / 1048576) }' /proc/meminfo)
if [ "$avail" -lt "$min_gb" ]; then
	echo "llama7b-bench: $avail GiB available, $min_gb needed (MIN_GB)" >&2
	exit 1
fi
mkdir -p "$dir"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'); $(nproc) CPUs;" \
	"$(grep -o -w -E 'avx2|avx512f|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "threads: $threads"

# measure NAME CMD...: runs CMD under /usr/bin/time (stdout to DIR/NAME.out, stderr to
# DIR/NAME.err); sets secs (wall), cpu (user + system seconds), hwm_mb (peak RSS), anon_mb and
# file_mb (the largest anonymous and file-backed RSS seen); fails if CMD does.
measure() {
	name=$1
	shift
	/usr/bin/time -o "$dir/$name.time" -f '%e %U %S %M' "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
	pid=$!
	anon=0 file=0
	while kill -0 "$pid" 2>/dev/null; do
		child=$(pgrep -P "$pid" | head -n 1 || true)
		if [ -n "$child" ]; then
			s=$(awk '/^RssAnon/ { a = $2 } /^RssFile/ { f = $2 } END { print a + 0, f + 0 }' \
				"/proc/$child/status" 2>/dev/null || echo "0 0")
			set -- $s
			[ "$1" -gt "$anon" ] && anon=$1
			[ "$2" -gt "$file" ] && file=$2
		fi
		sleep 0.2
	done
	rc=0
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "llama7b-bench: $name failed ($rc):" >&2
		tail -n 5 "$dir/$name.err" >&2
		exit 1
	fi
	set -- $(tail -n 1 "$dir/$name.time")
	secs=$1 cpu=$(echo "$2 + $3" | bc) hwm_mb=$(($4 / 1024)) anon_mb=$((anon / 1024)) file_mb=$((file / 1024))
}

report() {
	printf '  %-30s %7.1f s (CPU %7.1f s)  peak RSS %5d MB (anon %5d, files %5d)  load %s\n' \
		"$1" "$secs" "$cpu" "$hwm_mb" "$anon_mb" "$file_mb" "$(cut -d' ' -f1 /proc/loadavg)"
}

if [ ! -f "$dir/base/config.json" ]; then
	measure make-model "$py" tests/bench/llama7b-bench.py make-model "$dir/base" "$tokdir"
	report "make the bf16 model (python)"
fi
echo "model: $(du -sh "$dir/base" | cut -f1) in $(ls "$dir/base"/*.safetensors | wc -l) shards"

if want quantize; then
rm -rf "$dir/nf4"
measure quantize "$bin/quantize-nf4" --threads "$threads" -o "$dir/nf4" "$dir/base"
report "quantize-nf4"
if [ "${PEER:-0}" = 1 ]; then
	rm -rf "$dir/bnb"
	measure quantize-peer env THREADS="$threads" "$py" tests/bench/llama7b-peer.py quantize "$dir/base" "$dir/bnb"
	report "transformers + bitsandbytes NF4"
	rm -rf "$dir/bnb"
fi
fi

if want gen; then
printf '%s\n' '{"messages": [{"role": "user", "content": "Write a short poem about the sea and the wind, in four lines."}]}' >"$dir/prompt.jsonl"
measure gen1 "$bin/gen" -m "$dir/nf4" --max-new-tokens 1 --threads "$threads" --ids -q "$dir/prompt.jsonl"
t1=$secs c1=$cpu
report "gen, 1 new token (prefill)"
measure genN "$bin/gen" -m "$dir/nf4" --max-new-tokens $((new + 1)) --threads "$threads" --ids -q "$dir/prompt.jsonl"
tn=$secs cn=$cpu
report "gen, $((new + 1)) new tokens"
got=$(sed -n 's/.*"new_tokens":\([0-9]*\).*/\1/p' "$dir/genN.out")
pt=$(sed -n 's/.*"prompt_tokens":\([0-9]*\).*/\1/p' "$dir/genN.out")
echo "  gen: prompt $pt tokens; $((got - 1)) more tokens cost $(echo "$tn - $t1" | bc) s wall," \
	"$(echo "$cn - $c1" | bc) s CPU: decode $(echo "scale=3; ($got - 1) / ($tn - $t1)" | bc) tokens/s" \
	"wall, $(echo "scale=3; ($got - 1) * $threads / ($cn - $c1)" | bc) tokens/s at $threads CPU-bound threads"
if [ "${PEER:-0}" = 1 ]; then
	measure gen-peer env THREADS="$threads" "$py" tests/bench/llama7b-peer.py gen "$dir/base" "$dir/prompt.jsonl" "$new"
	report "transformers bf16 generate"
	echo "  transformers: $(tail -n 1 "$dir/gen-peer.out")"
fi
fi

if want train; then
V=$(sed -n 's/.*"vocab_size": *\([0-9]*\).*/\1/p' "$dir/base/config.json")
[ -f "$dir/train.pack" ] || "$py" tests/bench/llama7b-bench.py make-pack "$dir/train.pack" "$V"
rm -rf "$dir/run"
measure train "$bin/lora-train" -m "$dir/nf4" --train "$dir/train.pack" -o "$dir/run" \
	--rank 16 --alpha 32 --schedule constant --max-steps "$steps" --checkpointing \
	--threads "$threads" --quiet ${TRAIN_ARGS:-}
report "lora-train, $steps step(s) of T=512${TRAIN_ARGS:+ ($TRAIN_ARGS)}"
fi

if want merge; then
rm -rf "$dir/merged"
measure merge "$bin/lora-merge" --threads "$threads" --quiet -m "$dir/base" -a "$dir/run/adapter" -o "$dir/merged"
report "lora-merge (bf16 out)"
rm -rf "$dir/merged"
if [ "${PEER:-0}" = 1 ]; then
	measure merge-peer env THREADS="$threads" "$py" tests/bench/llama7b-peer.py merge "$dir/base" "$dir/run/adapter" "$dir/merged"
	report "PEFT merge_and_unload (bf16)"
	rm -rf "$dir/merged"
fi
fi

if [ "${KEEP:-0}" != 1 ]; then
	rm -rf "$dir"
fi
