# --scale belongs to the -a before it
$EXEC_PREFIX lora-merge --scale 2 -m "$QT_TEST_SRCDIR/data/lora/base" -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o out
