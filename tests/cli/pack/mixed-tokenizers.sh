D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -o out.pack $D/a.tok $D/other.tok
rc=$?
test ! -e out.pack || exit 99
exit $rc
