D=$QT_TEST_SRCDIR/data/pack
cp $D/a.tok b.tok && chmod u+w b.tok
printf "\013" | dd of=b.tok bs=1 seek=68 conv=notrunc 2>/dev/null
$EXEC_PREFIX pack -o out.pack b.tok
rc=$?
test ! -e out.pack || exit 99
exit $rc
