# An unknown --device name is a usage error; nothing is written.
$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" \
	--train "$QT_TEST_SRCDIR/data/lora_train/train.pack" -o out --device gpu
rc=$?
[ ! -e out ] || exit 1
exit $rc
