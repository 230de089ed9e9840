$EXEC_PREFIX lora-merge --dtype int8 -m "$QT_TEST_SRCDIR/data/lora/base" -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o out
