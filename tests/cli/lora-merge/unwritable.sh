# The output's parent does not exist: exit 73.
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o no/such/out
