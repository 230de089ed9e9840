# --eval-prompts: at each evaluation the adapter as it stands generates for the prompts (gen's
# job) and rouge-zh's job scores them. The last evaluation's predictions are byte-identical to
# `gen --adapter OUT/adapter` run afterwards, and its logged scores equal rouge-zh's on them.
set -eu
src=$QT_TEST_SRCDIR
mkdir model
cp "$src/data/sft-tiny/config.json" "$src/data/sft-tiny/model.safetensors" \
   "$src/data/tokenizer/smollm2/tokenizer.json" "$src/data/tokenizer/smollm2/tokenizer_config.json" \
   model/
"$QT_BIN/adgen-data" 7 40 > train.jsonl
"$QT_BIN/adgen-data" 8 3 > prompts.jsonl
$EXEC_PREFIX tok-chatml -t model --prompt-key content --response-key summary train.jsonl |
	$EXEC_PREFIX pack --seq-len 256 -o train.pack --quiet
train() {
	$EXEC_PREFIX lora-train -m model --train train.pack --max-steps 4 --eval-every 2 \
		--lr 5e-3 --rank 4 --quiet "$@"
}
# references that overlap what the tuned model says (a random model says no Chinese): the
# first two thirds of what a first run's adapter generates, so the scores are not all 0
train -o first
$EXEC_PREFIX gen -m model --adapter first/adapter --prompt-key content --max-new-tokens 9 \
	--quiet prompts.jsonl |
	jq -c '{content: .prompt, summary: (.predict | .[0:(length * 2 / 3 | floor)])}' > eval.jsonl
train -o out --eval-prompts eval.jsonl --eval-prompt-key content --eval-label-key summary \
	--eval-generate 9
cmp first/adapter/adapter_model.safetensors out/adapter/adapter_model.safetensors
grep -c '^{"step":[24],"eval_rouge-1":[0-9.]*,"eval_rouge-2":[0-9.]*,"eval_rouge-l":[0-9.]*,"eval_bleu-4":[0-9.]*}$' out/log.jsonl
wc -l < out/eval-2.jsonl
[ ! -e out/eval-adapter ] || { echo "eval-adapter left behind"; exit 1; }
$EXEC_PREFIX gen -m model --adapter out/adapter --prompt-key content --label-key summary \
	--max-new-tokens 9 --quiet eval.jsonl > pred.jsonl
cmp pred.jsonl out/eval-4.jsonl && echo "predictions identical to gen --adapter"
$EXEC_PREFIX rouge-zh pred.jsonl > metrics.json
want=$(sed 's/[{}]//g; s/, "n".*//; s/"\([a-z0-9-]*\)": \([0-9.e-]*\)/\1 \2/g' metrics.json |
	tr ',' '\n' | awk '{ printf "\"eval_%s\":%.4f,", $1, $2 }')
got=$(grep '^{"step":4,"eval' out/log.jsonl | sed 's/.*"step":4,//; s/}$/,/')
echo "$got" | grep -q '"eval_rouge-1":0.0000' && { echo "rouge-1 is 0: a weak test"; exit 1; }
[ "$want" = "$got" ] && echo "scores equal to rouge-zh's" || { echo "want $want"; echo "got  $got"; exit 1; }
