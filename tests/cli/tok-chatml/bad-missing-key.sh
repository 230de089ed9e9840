. "$CASE_DIR/lib.sh"
printf '{"content":"a"}\n' > in.jsonl
run_bad --prompt-key content --response-key summary in.jsonl
