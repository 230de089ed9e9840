# Compressed input gives the same stream as plain input.
. "$CASE_DIR/lib.sh"
D=$QT_TEST_SRCDIR/data/chatml
gzip -c "$D/auto.jsonl" > auto.jsonl.gz
$EXEC_PREFIX tok-chatml -q -t "$T" auto.jsonl.gz > out.tok || exit 1
$EXEC_PREFIX tok-cat out.tok | cmp - "$D/auto.golden"
