. "$CASE_DIR/lib.sh"
printf '{"text":["a"]}\n' > in.jsonl
run_bad --format text in.jsonl
