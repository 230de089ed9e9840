. "$CASE_DIR/lib.sh"
printf '{"chat_template": \n' > cfg.json
echo '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}' > in.jsonl
run_bad --chat-config cfg.json in.jsonl
