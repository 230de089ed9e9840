# A target module name the model does not have: exit 64, no output directory.
$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" \
	--train "$QT_TEST_SRCDIR/data/lora_train/train.pack" --target foo_proj -o out
rc=$?
ls
exit $rc
