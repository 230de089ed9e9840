# An adapter is written in a float type only.
$EXEC_PREFIX export-gguf --type q8_0 --adapter "$QT_TEST_SRCDIR/data/export/tiny-lora" -m "$QT_TEST_SRCDIR/data/export/tiny" -o lora.gguf
rc=$?
ls
exit $rc
