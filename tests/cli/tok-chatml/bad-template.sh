# A template using a construct outside the Jinja subset is refused when it is loaded, with the
# template's line and the construct (never rendered differently); no output is left.
. "$CASE_DIR/lib.sh"
cat > cfg.json <<'CFG'
{"bos_token":"<s>","eos_token":"</s>","chat_template":"{% for message in messages %}\n{{ message['content'] }}\n{% include 'footer.jinja' %}\n{% endfor %}"}
CFG
echo '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}' > in.jsonl
run_bad --chat-config cfg.json in.jsonl
