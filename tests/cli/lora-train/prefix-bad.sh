# --method prefix refusals: an unknown method, LoRA dropout with a prefix, and a LoRA adapter
# to continue a prefix run from (exit 64, nothing trained).
P="$QT_TEST_SRCDIR/data/lora_train/train.pack" M="$QT_TEST_SRCDIR/data/llama/tiny"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o a --method ptuning --quiet 2>&1 | head -n 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o b --method prefix --dropout 0.1 --quiet 2>&1 | head -n 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o c --method prefix --init-adapter "$QT_TEST_SRCDIR/data/lora_train/init" --quiet
rc=$?
ls
exit $rc
