$EXEC_PREFIX import-gguf "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf"
