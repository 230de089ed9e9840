. "$CASE_DIR/lib.sh"
printf '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n{"messages": [\n' > in.jsonl
run_bad  in.jsonl
