D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -o /nonexistent/dir/out.pack $D/a.tok
