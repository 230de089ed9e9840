D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -q --mode concat --seq-len 8 --no-shuffle -o out.pack $D/c.tok &&
$EXEC_PREFIX pack --cat out.pack &&
$EXEC_PREFIX pack -q --mode concat --cross-doc-attention --seq-len 8 --no-shuffle -o out.pack $D/c.tok &&
$EXEC_PREFIX pack --cat out.pack
