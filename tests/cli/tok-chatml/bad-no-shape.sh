. "$CASE_DIR/lib.sh"
printf '{"question":"a","answer":"b"}\n' > in.jsonl
run_bad  in.jsonl
