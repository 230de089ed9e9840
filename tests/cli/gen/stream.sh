# --stream prints the text as it comes (one prompt); more than one prompt is a usage error.
echo "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" > p.jsonl
$EXEC_PREFIX gen -q -m "$QT_TEST_SRCDIR/data/gen/tiny" --max-new-tokens 3 --stream p.jsonl || exit 1
cat p.jsonl p.jsonl > p2.jsonl
$EXEC_PREFIX gen -q -m "$QT_TEST_SRCDIR/data/gen/tiny" --max-new-tokens 3 --stream p2.jsonl
