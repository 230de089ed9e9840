# Output onto the input: exit 64.
cp -R "$QT_TEST_SRCDIR/data/nf4-model/src" m
$EXEC_PREFIX quantize-nf4 -o m m
