. "$CASE_DIR/lib.sh"
printf '{"text":"a\377b"}\n' > in.jsonl
run_bad --format text in.jsonl
