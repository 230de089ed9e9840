D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack --seq-len 16 --val-count 3 --val-out val.pack -o train.pack $D/a.tok $D/c.tok &&
$EXEC_PREFIX pack --info val.pack | grep -E "^(samples|blocks):"
