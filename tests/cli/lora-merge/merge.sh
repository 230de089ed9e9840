# The minimal run: a complete HF directory with the tokenizer files and generation config.
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o out || exit $?
ls out
cmp out/generation_config.json "$QT_TEST_SRCDIR/data/lora/base/generation_config.json" || exit 1
cmp out/config.json "$QT_TEST_SRCDIR/data/lora/base/config.json" || exit 1
