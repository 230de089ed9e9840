D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack --seq-len 0 -o out.pack $D/a.tok
