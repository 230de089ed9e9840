# A word that is no llama.cpp type: usage error (64).
$EXEC_PREFIX export-gguf --type q4km -o m.gguf "$QT_TEST_SRCDIR/data/export/tiny"
