D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -o out.pack $D/empty.tok
rc=$?
test ! -e out.pack || exit 99
exit $rc
