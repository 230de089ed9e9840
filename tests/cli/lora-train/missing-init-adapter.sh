# Missing --init-adapter directory: exit 66, no output directory.
$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" \
	--train "$QT_TEST_SRCDIR/data/lora_train/train.pack" --init-adapter nope -o out
rc=$?
ls
exit $rc
