# An adapter trained for another base (hidden 64, not 96): 65, nothing written.
$EXEC_PREFIX export-gguf --adapter "$QT_TEST_SRCDIR/data/lora/peft-r8" -m "$QT_TEST_SRCDIR/data/export/tiny" -o lora.gguf
rc=$?
ls
exit $rc
