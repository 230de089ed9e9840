$EXEC_PREFIX import-gguf --dtype f8 -o out "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf"
