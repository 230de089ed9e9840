# A bad option value: exit 64.
$EXEC_PREFIX gen -m "$QT_TEST_SRCDIR/data/gen/tiny" --max-new-tokens 0 </dev/null
