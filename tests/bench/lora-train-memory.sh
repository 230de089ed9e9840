#!/bin/sh
# lora-train memory with and without gradient checkpointing on the default model: STEPS (2)
# optimizer steps over blocks of T = 512 tokens packed from the demo data, LoRA r 8 on all
# linear modules. Prints the training workspace and peak RSS of both runs, their speed, and
# whether the two adapters are byte-identical (checkpointing must change memory, not values).
#   tests/bench/lora-train-memory.sh   (repository root, after `make` and `make model`;
#                                       QT_MODEL_DIR, THREADS, STEPS, SEQ, TMPDIR)
set -e
model=${QT_MODEL_DIR:-models/SmolLM2-135M-Instruct}
bin=${BIN:-bin}
seq=${SEQ:-512}
dir=${TMPDIR:-/tmp}/qt-train-mem.$$
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"
"$bin/adgen-data" 7 200 | "$bin/tok-chatml" -q -t "$model/tokenizer.json" --prompt-key content \
	--response-key summary | "$bin/pack" -q --seq-len "$seq" --max-blocks 8 -o "$dir/t.pack"
for mode in checkpointing no-checkpointing; do
	"$bin/lora-train" -m "$model" --train "$dir/t.pack" -o "$dir/$mode" --max-steps "${STEPS:-2}" \
		--"$mode" --threads "${THREADS:-$(nproc)}" 2>"$dir/$mode.err"
	printf '%-17s %s\n' "$mode:" "$(sed 's/^lora-train: //' "$dir/$mode.err")"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if cmp -s "$dir/checkpointing/adapter/adapter_model.safetensors" \
	"$dir/no-checkpointing/adapter/adapter_model.safetensors"; then
	echo "adapters byte-identical with and without checkpointing"
else
	echo "ADAPTERS DIFFER"; exit 1
fi
