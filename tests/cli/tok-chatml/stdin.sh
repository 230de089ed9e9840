# "-" (and no operand) read stdin; the stream goes to stdout by default.
. "$CASE_DIR/lib.sh"
D=$QT_TEST_SRCDIR/data/chatml
$EXEC_PREFIX tok-chatml -q -t "$T" - < "$D/auto.jsonl" | $EXEC_PREFIX tok-cat | cmp - "$D/auto.golden" || exit 1
$EXEC_PREFIX tok-chatml -q -t "$T" < "$D/auto.jsonl" | $EXEC_PREFIX tok-cat - | cmp - "$D/auto.golden"
