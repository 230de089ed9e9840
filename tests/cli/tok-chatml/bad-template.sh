# A Llama-2 chat template is not ChatML: refused rather than rendered approximately.
. "$CASE_DIR/lib.sh"
cat > cfg.json <<'CFG'
{"bos_token":"<s>","eos_token":"</s>","chat_template":"{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + ' ' + eos_token }}{% endif %}{% endfor %}"}
CFG
echo '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}' > in.jsonl
run_bad --chat-config cfg.json in.jsonl
