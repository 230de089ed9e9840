# merge then --unmerge gives the base back within float32 rounding (test_lora_merge measures it;
# here only the run and its summary line).
$EXEC_PREFIX lora-merge -q -m "$QT_TEST_SRCDIR/data/lora/base" -a "$QT_TEST_SRCDIR/data/lora/peft-rs" -o m || exit $?
$EXEC_PREFIX lora-merge --unmerge -m m -a "$QT_TEST_SRCDIR/data/lora/peft-rs" -o u || exit $?
test -s u/model.safetensors
