# --hyp/--ref with --per-sample: same numbers as the JSONL form; per-sample values.
$EXEC_PREFIX rouge-zh --hyp "$CASE_DIR/hyp.txt" --ref "$CASE_DIR/ref.txt" --per-sample per.jsonl -o out.json || exit 1
cat out.json per.jsonl
