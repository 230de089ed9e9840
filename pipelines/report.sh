#!/bin/sh
# Writes the pipeline report (markdown) to stdout from the files under OUT.
#   report.sh OUT DATA_TRAIN
out=$1 train=$2
metric() { sed -n "s/.*\"$2\": *\([-0-9.e]*\).*/\1/p" "$out/metrics-$1.json" | head -n 1; }
field() { sed -n "$2p" "$1" | sed -n "s/.*\"$3\":\"\(\([^\"\\\\]\|\\\\.\)*\)\".*/\1/p"; }
last_train=$(grep '"loss"' "$out/run/log.jsonl" | tail -n 1)
last_eval=$(grep '"eval_loss"' "$out/run/log.jsonl" | tail -n 1)
echo "# qlora-tools SFT report"
echo
echo "- training records: $(wc -l < "$train"), eval prompts: $(wc -l < "$out/pred-base.jsonl")"
echo "- final step: $(echo "$last_train" | sed 's/.*"step":\([0-9]*\).*/\1/')," \
     "train loss $(echo "$last_train" | sed 's/.*"loss":\([-0-9.e]*\).*/\1/')," \
     "eval loss $(echo "$last_eval" | sed 's/.*"eval_loss":\([-0-9.e]*\).*/\1/')"
echo "- training tokens/s: $(echo "$last_train" | sed 's/.*"tokens_per_s":\([-0-9.e]*\).*/\1/')"
echo
echo "| model | ROUGE-1 | ROUGE-2 | ROUGE-L | BLEU-4 |"
echo "|---|---|---|---|---|"
for m in base tuned; do
	echo "| $m | $(metric $m rouge-1) | $(metric $m rouge-2) | $(metric $m rouge-l) | $(metric $m bleu-4) |"
done
echo
echo "Loss curve: loss.png"
echo
echo "## Examples"
for i in 1 2 3; do
	echo
	echo "- prompt: $(field "$out/pred-base.jsonl" $i prompt)"
	echo "  - reference: $(field "$out/pred-base.jsonl" $i labels)"
	echo "  - untuned: $(field "$out/pred-base.jsonl" $i predict)"
	echo "  - tuned: $(field "$out/pred-tuned.jsonl" $i predict)"
done
