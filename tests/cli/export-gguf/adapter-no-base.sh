# --adapter without -m: a usage error.
$EXEC_PREFIX export-gguf --adapter "$QT_TEST_SRCDIR/data/export/tiny-lora" -o lora.gguf
