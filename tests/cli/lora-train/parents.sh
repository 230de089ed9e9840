# -o runs/x/out: missing parents are created, as mkdir -p does.
$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" --train "$QT_TEST_SRCDIR/data/lora_train/train.pack" \
	-o runs/x/out --max-steps 1 --quiet || exit 1
ls runs/x/out
