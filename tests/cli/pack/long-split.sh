# --long split: samples longer than --seq-len cut into pieces; a piece with no trained token (here
# the 1-token tail of a 9-token sample) is left out: a step of only such pieces would have no loss.
D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack --seq-len 8 --long split --no-shuffle -o out.pack $D/a.tok && $EXEC_PREFIX pack --info out.pack | grep -E "^(samples|tokens|segment_length):"
