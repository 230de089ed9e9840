D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -q --seq-len 16 -o f.pack $D/a.tok &&
cat $D/a.tok | $EXEC_PREFIX pack -q --seq-len 16 -o - > s.pack &&
cmp f.pack s.pack &&
$EXEC_PREFIX pack -q --seq-len 16 -o s2.pack < $D/a.tok &&
cmp f.pack s2.pack
