D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack --seq-len 8 --long split --no-shuffle -o out.pack $D/a.tok && $EXEC_PREFIX pack --info out.pack | grep -E "^(samples|tokens|segment_length):"
