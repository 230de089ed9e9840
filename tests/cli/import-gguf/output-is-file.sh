# -o names an existing regular file: refused (73), the file untouched, no m.old.NNNN left.
echo keep > m
$EXEC_PREFIX import-gguf -q -o m "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf"
echo "exit $?"
ls; cat m
