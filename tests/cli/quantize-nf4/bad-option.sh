# Unknown option: usage on stderr, exit 64.
$EXEC_PREFIX quantize-nf4 --bogus -o out "$QT_TEST_SRCDIR/data/nf4-model/src"
