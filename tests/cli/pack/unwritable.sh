D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -o /dev/null/dir/out.pack $D/a.tok
