# gen --adapter with prefix adapters that OUR lora-train trained (tests/ref/prefix_ours.sh:
# sft-tiny, 8 slots, 12 steps at lr 1e-1; once with PEFT's defaults, once with ChatGLM2's
# P-Tuning v2 options: positions from 0, prefix dropout 0.1, the projection MLP): PEFT 0.21.2
# loads both with our table bit for bit, and gen's greedy ids equal PeftModel's
# (tests/ref/prefix_ours_golden.py) for 4 ADGEN prompts, 8 new tokens, at batch 4 and 1. The
# same commands run again here end with adapters whose greedy ids are those too.
set -e
src=$QT_TEST_SRCDIR D=$QT_TEST_SRCDIR/data/prefix
mkdir model
cp "$src/data/sft-tiny/config.json" "$src/data/sft-tiny/generation_config.json" \
   "$src/data/sft-tiny/model.safetensors" "$src/data/tokenizer/smollm2/tokenizer.json" \
   "$src/data/tokenizer/smollm2/tokenizer_config.json" model/
"$QT_BIN/adgen-data" 8 4 > p.jsonl
G="-q -m model --prompt-key content --max-new-tokens 8 --ids"
ids() { sed 's/.*"predict_ids":\[\([^]]*\)\].*/\1/' "$1"; }
for n in ours-sft-tiny ours-sft-tiny-chatglm; do
	$EXEC_PREFIX gen $G --adapter "$D/$n" --batch 4 -o "$n-b4.jsonl" p.jsonl
	$EXEC_PREFIX gen $G --adapter "$D/$n" --batch 1 -o "$n-b1.jsonl" p.jsonl
	ids "$n-b4.jsonl" | cmp - "$D/$n-greedy.ids"
	ids "$n-b1.jsonl" | cmp - "$D/$n-greedy.ids"
	echo "$n: $(wc -l < "$D/$n-greedy.ids") prompts as PEFT's"
done
$EXEC_PREFIX gen $G -o base.jsonl p.jsonl
if ids base.jsonl | cmp -s - "$D/ours-sft-tiny-greedy.ids"; then
	echo "the prefix changes nothing"
	exit 1
fi
# the adapters again, from the commands of tests/ref/prefix_ours.sh
"$QT_BIN/adgen-data" 7 40 > train.jsonl
$EXEC_PREFIX tok-chatml -t model --prompt-key content --response-key summary train.jsonl |
	$EXEC_PREFIX pack --seq-len 256 -o train.pack --quiet
A="-m model --train train.pack --method prefix --virtual-tokens 8 --lr 1e-1 --max-steps 12"
A="$A --seed 1 --quiet"
$EXEC_PREFIX lora-train $A -o ours-sft-tiny
$EXEC_PREFIX lora-train $A --prefix-positions 0 --prefix-dropout 0.1 --prefix-projection \
	--prefix-hidden 16 -o ours-sft-tiny-chatglm
for n in ours-sft-tiny ours-sft-tiny-chatglm; do
	$EXEC_PREFIX gen $G --adapter "$n/adapter" -o "$n-again.jsonl" p.jsonl
	ids "$n-again.jsonl" | cmp - "$D/$n-greedy.ids"
done
echo "trained again: the same greedy ids"
