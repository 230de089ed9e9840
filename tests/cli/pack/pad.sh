D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -q --mode pad --seq-len 8 --no-shuffle --long truncate -o out.pack $D/c.tok &&
$EXEC_PREFIX pack --cat out.pack
