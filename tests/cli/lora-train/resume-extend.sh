# --max-steps 5 (a checkpoint is written at the end with --save-every), then --resume with
# --max-steps 12: the same adapter bytes as 12 steps straight (constant schedule after 3 warmup
# steps, so the planned total does not change the learning rates).
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
A="--lr 2e-3 --schedule constant-with-warmup --warmup-steps 3 --grad-accum 3 --max-grad-norm 0.5 --weight-decay 0.01 --quiet"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o straight --max-steps 12 $A || exit 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o run --max-steps 5 --save-every 100 $A || exit 1
ls run
$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume run --max-steps 12 $A || exit 1
cmp straight/adapter/adapter_model.safetensors run/adapter/adapter_model.safetensors &&
	echo adapter identical
grep -c '"step"' run/log.jsonl
