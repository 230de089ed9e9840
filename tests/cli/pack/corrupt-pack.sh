D=$QT_TEST_SRCDIR/data/pack
$EXEC_PREFIX pack -q --seq-len 16 -o out.pack $D/a.tok
printf "\377" | dd of=out.pack bs=1 seek=130 conv=notrunc 2>/dev/null
$EXEC_PREFIX pack --cat out.pack > cat.out
rc=$?
test -s cat.out && exit 98
$EXEC_PREFIX pack --info out.pack
exit $rc
