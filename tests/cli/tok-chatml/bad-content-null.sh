. "$CASE_DIR/lib.sh"
printf '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":null}]}\n' > in.jsonl
run_bad  in.jsonl
