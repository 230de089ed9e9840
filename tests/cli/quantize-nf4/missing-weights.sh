# config.json without weights: exit 66, nothing written.
mkdir m
cp "$QT_TEST_SRCDIR/data/nf4-model/src/config.json" m/
$EXEC_PREFIX quantize-nf4 -o out m
rc=$?
ls
exit $rc
