# A gzip stream cut short: 65 (it was 66, as if the file were missing).
gzip -c "$CASE_DIR/examples.jsonl" > e.gz
head -c $(($(wc -c < e.gz) - 20)) e.gz > t.gz
$EXEC_PREFIX rouge-zh t.gz
