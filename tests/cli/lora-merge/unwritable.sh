# A parent of the output is a regular file: the output cannot be created, exit 73.
touch f
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o f/out
