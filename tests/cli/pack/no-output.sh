D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack $D/a.tok
