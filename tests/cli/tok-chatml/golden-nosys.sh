# Golden: tok-chatml --template chatml --system '' on tests/data/chatml/nosys.jsonl equals the ids and masks that
# tests/ref/chatml_golden.py computed with HF apply_chat_template + TRL (see that script),
# at 1 and at 3 threads.
D=$QT_TEST_SRCDIR/data/chatml
T=$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json
for n in 1 3; do
	$EXEC_PREFIX tok-chatml -q --threads $n -t "$T" --template chatml --system '' "$D/nosys.jsonl" -o out.tok || exit 1
	$EXEC_PREFIX tok-cat out.tok > out.jsonl || exit 1
	cmp out.jsonl "$D/nosys.golden" || { diff out.jsonl "$D/nosys.golden" | head -5; exit 1; }
done
