. "$CASE_DIR/lib.sh"
printf '[1,2]\n' > in.jsonl
run_bad  in.jsonl
