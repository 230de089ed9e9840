# Exact resume: 20 steps straight vs the same run with checkpoints every 7 steps, cut back to
# checkpoint-7 (later checkpoints, the adapter and log lines removed as after a crash) and
# resumed with --resume OUT: byte-identical adapter and identical step lines (cosine schedule
# with warmup, grad accumulation, NEFTune, LoRA dropout, shuffled epochs).
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
A="--lr 1e-3 --schedule cosine --warmup-steps 3 --grad-accum 2 --neftune-alpha 5 --dropout 0.1 --shuffle --max-steps 20 --quiet"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o straight $A || exit 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o cut --save-every 7 $A || exit 1
ls cut/checkpoint-7 cut/checkpoint-14
rm -rf cut/adapter cut/checkpoint-14 cut/checkpoint-20
$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume cut $A || exit 1
cmp straight/adapter/adapter_model.safetensors cut/adapter/adapter_model.safetensors &&
	cmp straight/adapter/adapter_config.json cut/adapter/adapter_config.json &&
	echo adapter identical
cut -d, -f1-5 straight/log.jsonl >a.txt
cut -d, -f1-5 cut/log.jsonl >b.txt
cmp a.txt b.txt && echo log identical
# Refusals leave the run untouched: another learning rate (65, naming the option), a flipped
# byte in the optimizer state (65, checksum), a directory without checkpoints (66).
cp cut/log.jsonl log.before
$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume cut $A --lr 2e-3; echo "exit $?"
cp -r cut/checkpoint-7 bad
printf '\377' | dd of=bad/optimizer.safetensors bs=1 seek=300 conv=notrunc 2>/dev/null
$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume bad -o cut $A; echo "exit $?"
mkdir empty
$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume empty $A; echo "exit $?"
cmp log.before cut/log.jsonl && ls cut
