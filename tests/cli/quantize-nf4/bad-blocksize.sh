# A blocksize bitsandbytes does not accept: exit 64.
$EXEC_PREFIX quantize-nf4 -b 48 -o out "$QT_TEST_SRCDIR/data/nf4-model/src"
rc=$?
ls
exit $rc
