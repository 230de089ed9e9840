. "$CASE_DIR/lib.sh"
printf '{"content":5,"summary":"x"}\n' > in.jsonl
run_bad --prompt-key content --response-key summary in.jsonl
