#!/bin/sh
# Writes the SFT pipeline report (markdown) to stdout from the files under OUT.
#   report.sh OUT DATA_TRAIN [QT_BIN]
# Reads OUT/train.pack and OUT/val.pack (pack --info), OUT/run/log.jsonl (lora-train),
# OUT/metrics-{base,tuned}.json (rouge-zh) and OUT/pred-{base,tuned}.jsonl (gen). JSON is read
# with jq, so any string a model writes (newlines, quotes, pipes) lands in the table intact.
set -eu
out=$1 train=$2 bin=${3:-bin}
info() { "$bin/pack" --info "$1" | sed -n "s/^$2: *//p"; }
log=$out/run/log.jsonl
last() { jq -r "select(has(\"$1\")) | .$2" "$log" | tail -n 1; }
metric() { jq -r ".\"$2\" | . * 100 | round / 100" "$out/metrics-$1.json"; }
cell() { jq -r "$1 | gsub(\"\n\"; \" / \") | gsub(\"[|]\"; \"\\\\|\")"; }

echo "# qlora-tools SFT report"
echo
echo "- data: $(wc -l < "$train") training records -> $(info "$out/train.pack" samples) samples" \
     "in $(info "$out/train.pack" blocks) blocks of $(info "$out/train.pack" seq_len) tokens;" \
     "$(info "$out/val.pack" samples) held out for eval loss;" \
     "$(wc -l < "$out/pred-base.jsonl") eval prompts"
method=$(jq -r '.peft_type + if .num_virtual_tokens then " (\(.num_virtual_tokens) prefix slots" +
	(if .qlora_tools_prefix_positions == 0 then ", positions from 0" else "" end) +
	(if .prefix_projection then ", projection MLP of \(.encoder_hidden_size)" else "" end) + ")"
	else " (rank \(.r), alpha \(.lora_alpha))" end' "$out/run/adapter/adapter_config.json")
echo "- adapter: $method"
echo "- training: $(last loss step) steps, $(jq -s '[.[] | select(has("loss"))] | last | .tokens' "$log")" \
     "label tokens; $(last loss input_tokens_per_s) tokens/s through the model" \
     "($(last loss tokens_per_s) label tokens/s)"
echo "- final train loss $(last loss loss), eval loss $(last eval_loss eval_loss)" \
     "(first eval loss $(jq -r 'select(has("eval_loss")) | .eval_loss' "$log" | head -n 1))"
if jq -e 'select(has("eval_mean_token_accuracy"))' "$log" > /dev/null; then
	echo "- token accuracy on the held-out blocks (TRL's mean_token_accuracy):" \
	     "$(jq -r 'select(has("eval_mean_token_accuracy")) | .eval_mean_token_accuracy' "$log" |
	        head -n 1) first, $(last eval_mean_token_accuracy eval_mean_token_accuracy) last"
fi
if jq -e 'select(has("eval_rouge-l"))' "$log" > /dev/null; then
	echo "- during training (--eval-prompts): ROUGE-L $(jq -r 'select(has("eval_rouge-l")) |
	     "\(.["eval_rouge-l"]) at step \(.step)"' "$log" | paste -sd, - | sed 's/,/, /g')"
fi
echo
echo "| model | ROUGE-1 | ROUGE-2 | ROUGE-L | BLEU-4 |"
echo "|---|---|---|---|---|"
for m in base tuned; do
	echo "| $m | $(metric $m rouge-1) | $(metric $m rouge-2) | $(metric $m rouge-l) | $(metric $m bleu-4) |"
done
echo
echo "Loss curve: loss.png (train and eval loss against step, and the evaluations' token" \
     "accuracy and ROUGE/BLEU when logged)."
for g in "$out"/model-*.gguf; do
	[ -f "$g" ] || continue
	echo
	echo "For llama.cpp: $(basename "$g") ($(wc -c < "$g" | awk '{printf "%.1f", $1 / 1e6}') MB, the tuned model" \
	     "merged and written by export-gguf): \`llama-cli -m $g -cnv\`"
done
echo
echo "## Examples"
echo
echo "| prompt | reference | untuned | tuned |"
echo "|---|---|---|---|"
for i in 1 2 3; do
	b=$(sed -n "${i}p" "$out/pred-base.jsonl")
	t=$(sed -n "${i}p" "$out/pred-tuned.jsonl")
	[ -n "$b" ] || break
	echo "| $(printf '%s\n' "$b" | cell .prompt) | $(printf '%s\n' "$b" | cell '.labels // ""') |" \
	     "$(printf '%s\n' "$b" | cell .predict) | $(printf '%s\n' "$t" | cell .predict) |"
done
