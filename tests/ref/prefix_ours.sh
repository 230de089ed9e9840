#!/bin/sh
# Prefix adapters trained by OUR lora-train, then read by PEFT 0.21.2: makes
# tests/data/prefix/ours-sft-tiny* with the tools and runs tests/ref/prefix_ours_golden.py on
# them (PEFT loads them, the greedy ids of PeftModel). tests/cli/gen/prefix-ours.sh checks gen
# against those ids, and trains the same adapters again with the commands below.
#   tests/ref/prefix_ours.sh   (repository root, after `make`; BIN, PYTHON, TMPDIR)
# The model is the pipeline tests' sft-tiny (2 layers, GQA 2/1, head_dim 8) with SmolLM2's
# tokenizer; the data 40 generated ADGEN records in blocks of 256 tokens. Adapters:
#   ours-sft-tiny         --method prefix --virtual-tokens 8, 12 steps at lr 1e-1 (PEFT's
#                         defaults: positions after the prefix, no projection)
#   ours-sft-tiny-chatglm the same with ChatGLM2's P-Tuning v2 options: --prefix-positions 0,
#                         --prefix-dropout 0.1, and --prefix-projection --prefix-hidden 16
set -e
bin=${BIN:-bin}
py=${PYTHON:-/work/venv-ref/bin/python}
d=tests/data/prefix
tmp=${TMPDIR:-/tmp}/qt-prefix-ours.$$
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/model"
cp tests/data/sft-tiny/config.json tests/data/sft-tiny/generation_config.json \
   tests/data/sft-tiny/model.safetensors tests/data/tokenizer/smollm2/tokenizer.json \
   tests/data/tokenizer/smollm2/tokenizer_config.json "$tmp/model/"
"$bin/adgen-data" 7 40 > "$tmp/train.jsonl"
"$bin/tok-chatml" -t "$tmp/model" --prompt-key content --response-key summary "$tmp/train.jsonl" |
	"$bin/pack" --seq-len 256 -o "$tmp/train.pack" --quiet
A="-m $tmp/model --train $tmp/train.pack --method prefix --virtual-tokens 8 --lr 1e-1"
A="$A --max-steps 12 --seed 1 --quiet"
"$bin/lora-train" $A -o "$tmp/plain"
"$bin/lora-train" $A --prefix-positions 0 --prefix-dropout 0.1 --prefix-projection \
	--prefix-hidden 16 -o "$tmp/chatglm"
for n in plain chatglm; do
	dst=$d/ours-sft-tiny$([ $n = plain ] || echo -$n)
	rm -rf "$dst"
	cp -R "$tmp/$n/adapter" "$dst"
done
"$bin/adgen-data" 8 4 > "$tmp/prompts.jsonl"
"$py" tests/ref/prefix_ours_golden.py "$tmp/model" "$tmp/prompts.jsonl"
