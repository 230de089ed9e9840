# A zip cut short (anywhere: in the central directory, in a member, in the first header) or with
# a corrupt member is refused with 65; it was scored on the members that could be read, exit 0.
# The whole archive scores as its two members (tests/data/archive/preds.zip: examples.jsonl twice).
Z="$QT_TEST_SRCDIR/data/archive/preds.zip"
$EXEC_PREFIX rouge-zh "$Z" > whole.json || exit 1
n=$(wc -c < "$Z")
for cut in $((n - 10)) $((n - 200)) $((n / 2)) 100; do
	head -c $cut "$Z" > t.zip
	$EXEC_PREFIX rouge-zh t.zip > out.json 2>err
	echo "$cut: exit $? $(wc -c < out.json) bytes out"
	sed "s/^rouge-zh: t.zip[^ ]*: //" err
done | sed "s/^[0-9]*:/cut:/"
# a byte of the first member's compressed data changed: refused, not scored on what decoded
cp "$Z" c.zip
printf 'X' | dd of=c.zip bs=1 seek=200 conv=notrunc 2>/dev/null
$EXEC_PREFIX rouge-zh c.zip > out.json
echo "corrupt: exit $? $(wc -c < out.json) bytes out"
