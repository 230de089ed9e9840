D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -q --seq-len 16 -o out.pack $D/a.tok $D/c.tok && $EXEC_PREFIX pack --info out.pack
