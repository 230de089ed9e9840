. "$CASE_DIR/lib.sh"
printf '"x"\n' > in.jsonl
run_bad  in.jsonl
