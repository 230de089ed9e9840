# Missing jieba data: exit 66.
$EXEC_PREFIX rouge-zh --jieba-dir ./nojieba "$CASE_DIR/examples.jsonl"
