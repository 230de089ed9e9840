# Every member of a tar.gz archive is read, in archive order; messages name the member.
. "$CASE_DIR/lib.sh"
D=$QT_TEST_SRCDIR/data/chatml
mkdir m && cp "$D/auto.jsonl" m/1.jsonl && cp "$D/edge.jsonl" m/2.jsonl
tar -czf a.tar.gz m/1.jsonl m/2.jsonl
$EXEC_PREFIX tok-chatml -q -t "$T" a.tar.gz > out.tok || exit 1
$EXEC_PREFIX tok-cat out.tok > got.jsonl
cat "$D/auto.golden" "$D/edge.golden" | cmp - got.jsonl || exit 1
printf '{"messages":[]}\n' > m/3.jsonl
tar -cf b.tar m/2.jsonl m/3.jsonl
run_bad b.tar
