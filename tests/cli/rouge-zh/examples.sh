# reference.md 9.8 E1-E5 with the LLaMA-Factory empty rule (the default).
$EXEC_PREFIX rouge-zh "$CASE_DIR/examples.jsonl"
