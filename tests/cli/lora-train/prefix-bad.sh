# --method prefix refusals: an unknown method, LoRA dropout with a prefix, ChatGLM's options
# and the projection's without --method prefix or out of range, --prefix-projection from an
# adapter without its MLP or with another hidden size, and a LoRA adapter to continue a prefix
# run from (exit 64, nothing trained).
P="$QT_TEST_SRCDIR/data/lora_train/train.pack" M="$QT_TEST_SRCDIR/data/llama/tiny"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o a --method ptuning --quiet 2>&1 | head -n 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o b --method prefix --dropout 0.1 --quiet 2>&1 | head -n 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o d --prefix-positions 0 --quiet 2>&1 | head -n 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o d --prefix-dropout 0.1 --quiet 2>&1 | head -n 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o d --method prefix --prefix-positions 4 --quiet 2>&1 | head -n 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o d --method prefix --prefix-dropout 1 --quiet 2>&1 | head -n 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o d --prefix-projection --quiet 2>&1 | head -n 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o d --method prefix --prefix-hidden 8 --quiet 2>&1 | head -n 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o d --method prefix --virtual-tokens 4 --prefix-projection --init-adapter "$QT_TEST_SRCDIR/data/prefix/train-init" --quiet 2>&1 | sed 's|.*/data/|lora-train: */data/|'
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o d --method prefix --virtual-tokens 4 --prefix-projection --prefix-hidden 8 --init-adapter "$QT_TEST_SRCDIR/data/prefix/train-init-proj" --quiet 2>&1 | sed 's|.*/data/|lora-train: */data/|'
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o c --method prefix --init-adapter "$QT_TEST_SRCDIR/data/lora_train/init" --quiet
rc=$?
ls
exit $rc
