#!/bin/sh
# Data-parallel lora-train on one host: 2 ranks x 1 thread (mpirun) against 1 process x 2
# threads, the same global step (2 blocks: --grad-accum 1 per rank against --grad-accum 2), on
# the default model (make model) with LoRA r 16 on all linear modules, blocks of SEQ_LEN
# (default 512) tokens from generated ADGEN data. Prints tokens/s of each (trained and input
# tokens over steps 2..STEPS, step 1 being warm-up) and the all-reduce's share of a 2-rank
# step (lora-train's summary line: time in the reductions, waiting for the slower rank
# included). Also checks that both runs end with the same adapter bytes.
#   tests/bench/lora-train-mpi-bench.sh   (repository root, after `make all model`;
#                                          STEPS, SEQ_LEN, TMPDIR)
set -e
bin=${BIN:-bin}
model=${MODEL:-models/SmolLM2-135M-Instruct}
steps=${STEPS:-4}
seq=${SEQ_LEN:-512}
dir=${TMPDIR:-/tmp}/qt-mpi-bench
[ -f "$model/config.json" ] || { echo "no $model (make model)" >&2; exit 1; }
mkdir -p "$dir"
if [ ! -f "$dir/train.pack" ]; then
	"$bin/adgen-data" 5 400 > "$dir/train.jsonl"
	"$bin/tok-chatml" -t "$model/tokenizer.json" --prompt-key content --response-key summary \
		-o "$dir/train.tok" "$dir/train.jsonl"
	"$bin/pack" --seq-len "$seq" -o "$dir/train.pack" "$dir/train.tok"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
A="-m $model --train $dir/train.pack --rank 16 --alpha 32 --schedule constant --max-steps $steps"
rm -rf "$dir/one" "$dir/two"
"$bin/lora-train" $A -o "$dir/one" --grad-accum 2 --threads 2 2> "$dir/one.err"
mpirun -np 2 --bind-to none "$bin/lora-train" $A -o "$dir/two" --grad-accum 1 --threads 1 \
	2> "$dir/two.err"
# rate over steps 2..N: elapsed at step k = tokens_k / tokens_per_s_k
rate() {
	sed 's/[{}"]//g; s/[a-z_]*://g; s/,/ /g' "$1" | awk -v c="$2" '
		NR == 1 { t1 = $c; e1 = $c / $(c + 1) } { t = $c; e = $c / $(c + 1) }
		END { printf "%.1f", (t - t1) / (e - e1) }'
}
share=$(sed -n 's/.*all-reduce \([0-9.]*\) ms per step (\([0-9.]*\)%.*/\1 ms, \2%/p' "$dir/two.err")
same=differ
cmp -s "$dir/one/adapter/adapter_model.safetensors" "$dir/two/adapter/adapter_model.safetensors" &&
	same=identical
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "lora-train, $(basename "$model"), T=$seq, LoRA r16 all-linear, 2 blocks per step, $steps steps"
printf '  1 process x 2 threads (--grad-accum 2): %8s trained tokens/s %8s input tokens/s\n' \
	"$(rate "$dir/one/log.jsonl" 5)" "$(rate "$dir/one/log.jsonl" 7)"
printf '  2 ranks x 1 thread    (--grad-accum 1): %8s trained tokens/s %8s input tokens/s\n' \
	"$(rate "$dir/two/log.jsonl" 5)" "$(rate "$dir/two/log.jsonl" 7)"
echo "  all-reduce per 2-rank step: $share of the run"
echo "  adapters: $same"
