# --method prefix the ChatGLM recipe's way, end to end on a QLoRA base: sft-tiny quantized by
# quantize-nf4, 8 slots with ChatGLM2's P-Tuning v2 options (--prefix-positions 0,
# --prefix-dropout 0.1, --prefix-projection), NEFTune and --eval-prompts. Each evaluation logs
# eval loss, eval_mean_token_accuracy and ROUGE-1/2/L and BLEU-4 of the adapter's greedy
# generations; the last evaluation's predictions are byte-identical to gen --adapter on the NF4
# base afterwards, and its scores equal rouge-zh's. --checkpointing (every layer recomputed in
# the backward pass; the default keeps this small model's activations) ends with the same
# adapter bytes, and so does a run resumed from its checkpoint, with the same log lines.
set -eu
src=$QT_TEST_SRCDIR
mkdir model
cp "$src/data/sft-tiny/config.json" "$src/data/sft-tiny/model.safetensors" \
   "$src/data/tokenizer/smollm2/tokenizer.json" "$src/data/tokenizer/smollm2/tokenizer_config.json" \
   model/
$EXEC_PREFIX quantize-nf4 --quiet -o nf4 model
"$QT_BIN/adgen-data" 7 40 > train.jsonl
"$QT_BIN/adgen-data" 8 3 > prompts.jsonl
$EXEC_PREFIX tok-chatml -t model --prompt-key content --response-key summary train.jsonl |
	$EXEC_PREFIX pack --seq-len 256 --val-count 4 --val-out val.pack -o train.pack --quiet
train() {
	$EXEC_PREFIX lora-train -m nf4 --train train.pack --val val.pack --max-steps 4 \
		--eval-every 2 --lr 2e-2 --method prefix --virtual-tokens 8 --prefix-positions 0 \
		--prefix-dropout 0.1 --prefix-projection --neftune-alpha 5 --quiet "$@"
}
# references that overlap what the tuned model says (a random model says no Chinese): the
# first two thirds of what a first run's adapter generates, so the scores are not all 0
train -o first
$EXEC_PREFIX gen -m nf4 --adapter first/adapter --prompt-key content --max-new-tokens 9 \
	--quiet prompts.jsonl |
	jq -c '{content: .prompt, summary: (.predict | .[0:(length * 2 / 3 | floor)])}' > eval.jsonl
E="--eval-prompts eval.jsonl --eval-prompt-key content --eval-label-key summary --eval-generate 9"
train -o out $E --save-every 2
cmp first/adapter/adapter_model.safetensors out/adapter/adapter_model.safetensors
n='[0-9.]*'
grep -c "^{\"step\":[24],\"eval_loss\":$n,\"eval_mean_token_accuracy\":$n,\"eval_rouge-1\":$n,\
\"eval_rouge-2\":$n,\"eval_rouge-l\":$n,\"eval_bleu-4\":$n}\$" out/log.jsonl
$EXEC_PREFIX gen -m nf4 --adapter out/adapter --prompt-key content --label-key summary \
	--max-new-tokens 9 --quiet eval.jsonl > pred.jsonl
cmp pred.jsonl out/eval-4.jsonl && echo "predictions identical to gen --adapter"
$EXEC_PREFIX rouge-zh pred.jsonl > metrics.json
want=$(sed 's/[{}]//g; s/, "n".*//; s/"\([a-z0-9-]*\)": \([0-9.e-]*\)/\1 \2/g' metrics.json |
	tr ',' '\n' | awk '{ printf "\"eval_%s\":%.4f,", $1, $2 }')
got=$(grep '^{"step":4,"eval' out/log.jsonl | sed 's/.*"eval_rouge-1"/"eval_rouge-1"/; s/}$/,/')
echo "$got" | grep -q '"eval_rouge-1":0.0000' && { echo "rouge-1 is 0: a weak test"; exit 1; }
[ "$want" = "$got" ] && echo "scores equal to rouge-zh's" || { echo "want $want"; echo "got  $got"; exit 1; }
train -o ck --checkpointing
cmp out/adapter/adapter_model.safetensors ck/adapter/adapter_model.safetensors &&
	cmp out/adapter/prefix_encoder.safetensors ck/adapter/prefix_encoder.safetensors &&
	echo "with checkpointing: identical"
cp -R out part && rm -rf part/adapter part/checkpoint-4 part/eval-4.jsonl
train $E --save-every 2 --resume part/checkpoint-2
cmp out/adapter/adapter_model.safetensors part/adapter/adapter_model.safetensors &&
	cmp out/adapter/prefix_encoder.safetensors part/adapter/prefix_encoder.safetensors &&
	cut -d, -f1-5 out/log.jsonl > a.txt && cut -d, -f1-5 part/log.jsonl > b.txt && cmp a.txt b.txt &&
	cmp out/eval-4.jsonl part/eval-4.jsonl && echo "resumed: identical"
