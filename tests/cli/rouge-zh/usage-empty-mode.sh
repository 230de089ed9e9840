$EXEC_PREFIX rouge-zh --empty maybe "$CASE_DIR/examples.jsonl"
