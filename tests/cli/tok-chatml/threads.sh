# Records are encoded in chunks on several threads but written in input order: 1 and 4
# threads give the same stream over many chunks, a bad record in the middle included.
. "$CASE_DIR/lib.sh"
D=$QT_TEST_SRCDIR/data/chatml
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do cat "$D/auto.jsonl"; done > in.jsonl
echo '{"messages":[]}' >> in.jsonl
for i in 1 2 3 4 5; do cat "$D/edge.jsonl"; done >> in.jsonl
$EXEC_PREFIX tok-chatml -q --skip-bad --threads 1 -t "$T" -o a.tok in.jsonl || exit 1
$EXEC_PREFIX tok-chatml -q --skip-bad --threads 4 -t "$T" -o b.tok in.jsonl || exit 1
cmp a.tok b.tok || exit 1
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do cat "$D/auto.golden"; done > want
for i in 1 2 3 4 5; do cat "$D/edge.golden"; done >> want
$EXEC_PREFIX tok-cat b.tok | cmp - want
