# Two packs writing the same train and validation files at once (seeds 1 and 2), 20 times:
# the pair on disk always comes from one run (its header's seed), never a mix.
D=$QT_TEST_SRCDIR/data/pack
seed() { $EXEC_PREFIX pack --info "$1" 2>/dev/null | sed -n 's/^seed: //p'; }
mixed=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	$EXEC_PREFIX pack -q --seq-len 16 --val-count 3 --seed 1 --val-out v.pack -o t.pack $D/a.tok $D/c.tok &
	$EXEC_PREFIX pack -q --seq-len 16 --val-count 3 --seed 2 --val-out v.pack -o t.pack $D/a.tok $D/c.tok
	wait
	[ "$(seed t.pack)" = "$(seed v.pack)" ] || mixed=$((mixed + 1))
done
echo "$mixed mixed"
ls
