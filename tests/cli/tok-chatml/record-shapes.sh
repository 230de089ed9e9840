# Record shapes users bring, each read as the messages record it means (the messages form is
# checked against transformers' apply_chat_template by the golden cases): alpaca with
# LLaMA-Factory's "history", content as a list of one text part, ShareGPT "conversations"
# written with role/content, TRL's conversational prompt/completion. Same tokens and masks.
S=$QT_TEST_SRCDIR/data/tokenizer/smollm2
cat > shapes.jsonl <<'J'
{"instruction":"And 3+3?","input":"","output":"6","history":[["What is 2+2?","4"]]}
{"messages":[{"role":"user","content":[{"type":"text","text":"Hi there"}]},{"role":"assistant","content":"Hello!"}]}
{"conversations":[{"role":"system","content":"Be brief."},{"role":"user","content":"Name a colour."},{"role":"assistant","content":"Blue."}]}
{"prompt":[{"role":"user","content":"Say yes."}],"completion":[{"role":"assistant","content":"Yes."}]}
J
cat > same.jsonl <<'J'
{"messages":[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"},{"role":"user","content":"And 3+3?"},{"role":"assistant","content":"6"}]}
{"messages":[{"role":"user","content":"Hi there"},{"role":"assistant","content":"Hello!"}]}
{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Name a colour."},{"role":"assistant","content":"Blue."}]}
{"messages":[{"role":"user","content":"Say yes."},{"role":"assistant","content":"Yes."}]}
J
$EXEC_PREFIX tok-chatml -q -t "$S/tokenizer.json" --chat-config "$S/tokenizer_config.json" -o a.tok shapes.jsonl || exit 1
$EXEC_PREFIX tok-chatml -q -t "$S/tokenizer.json" --chat-config "$S/tokenizer_config.json" -o b.tok same.jsonl || exit 1
tok-cat a.tok > a.txt && tok-cat b.tok > b.txt && cmp a.txt b.txt && wc -l < a.txt
