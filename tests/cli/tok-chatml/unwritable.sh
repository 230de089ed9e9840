T=$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json
echo '{"text":"x"}' > a.jsonl
$EXEC_PREFIX tok-chatml -q --format text -t "$T" -o nodir/out.tok a.jsonl
