# Shared by the tok-cat cases: make_tok writes t.tok, two ChatML records made by tok-chatml.
T=$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json
make_tok() {
	printf '%s\n' '{"q":"Hi","a":"Hello!"}' '{"q":"2+2?","a":"4"}' > in.jsonl
	$EXEC_PREFIX tok-chatml -q --template chatml --system '' --prompt-key q --response-key a -t "$T" -o t.tok \
	  in.jsonl
}
