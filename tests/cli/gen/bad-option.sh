# Unknown option: usage error, exit 64, nothing on stdout.
$EXEC_PREFIX gen --no-such-option -m "$QT_TEST_SRCDIR/data/gen/tiny"
