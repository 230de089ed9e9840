# Missing model directory: exit 66, no output directory.
$EXEC_PREFIX lora-train -m nope --train "$QT_TEST_SRCDIR/data/lora_train/train.pack" -o out
rc=$?
ls
exit $rc
