D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -q -o x.pack $D/a.tok
$EXEC_PREFIX pack -o out.pack x.pack
rc=$?
test ! -e out.pack || exit 99
exit $rc
