# An NF4 directory as input: exit 65, nothing written.
$EXEC_PREFIX quantize-nf4 -o out "$QT_TEST_SRCDIR/data/nf4-model/hf-nf4"
rc=$?
ls
exit $rc
