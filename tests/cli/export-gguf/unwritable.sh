# The output's directory does not exist: exit 73.
$EXEC_PREFIX export-gguf -o no/such/m.gguf "$QT_TEST_SRCDIR/data/export/tiny"
