D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack --val 0.1 -o out.pack $D/a.tok
