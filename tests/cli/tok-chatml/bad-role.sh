. "$CASE_DIR/lib.sh"
printf '{"conversations":[{"from":"bot","value":"a"}]}\n' > in.jsonl
run_bad  in.jsonl
