D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack --seq-len 1 -o out.pack $D/c.tok
rc=$?
test ! -e out.pack || exit 99
exit $rc
