D=$QT_TEST_SRCDIR/data/pack
head -c 300 $D/a.tok > t.tok
$EXEC_PREFIX pack -o out.pack t.tok
rc=$?
test ! -e out.pack || exit 99
exit $rc
