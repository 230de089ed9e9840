# No -o: exit 64.
$EXEC_PREFIX quantize-nf4 "$QT_TEST_SRCDIR/data/nf4-model/src"
