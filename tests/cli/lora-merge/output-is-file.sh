# -o names an existing regular file: refused (73), the file untouched, nothing left beside it.
echo keep > m
$EXEC_PREFIX lora-merge -q -m "$QT_TEST_SRCDIR/data/lora/base" -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o m
echo "exit $?"
ls; cat m
