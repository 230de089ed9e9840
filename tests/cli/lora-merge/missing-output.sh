# -o is required
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a "$QT_TEST_SRCDIR/data/lora/peft-r8"
