# A gzip stream cut short: 65, no output left.
. "$CASE_DIR/lib.sh"
gzip -c "$QT_TEST_SRCDIR/data/chatml/auto.jsonl" > a.gz
head -c $(($(wc -c < a.gz) - 20)) a.gz > t.gz
run_bad t.gz
