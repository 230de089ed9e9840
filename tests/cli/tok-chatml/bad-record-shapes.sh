# What stays ambiguous is refused with the record's line and what to do: plain-string
# prompt/completion (TRL trains them as text, without a template), several text parts in one
# content, a non-text part.
S=$QT_TEST_SRCDIR/data/tokenizer/smollm2
cat > in.jsonl <<'J'
{"prompt":"Say yes.","completion":"Yes."}
{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"assistant","content":"c"}]}
{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x.png"}}]},{"role":"assistant","content":"c"}]}
J
$EXEC_PREFIX tok-chatml --skip-bad -t "$S/tokenizer.json" --chat-config "$S/tokenizer_config.json" -o a.tok in.jsonl
echo "exit $?"
