$EXEC_PREFIX export-gguf "$QT_TEST_SRCDIR/data/export/tiny"
