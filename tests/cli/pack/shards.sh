D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -q --seq-len 8 --shard-blocks 4 -o "tr-%02d.pack" $D/a.tok $D/c.tok &&
ls tr-* && $EXEC_PREFIX pack --info tr-01.pack | grep -E "^(blocks|shard):"
