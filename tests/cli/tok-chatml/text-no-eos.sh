# --format text appends the configuration's eos token: without a configuration there is none.
mkdir tk && cp "$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json" tk/
echo '{"text":"a"}' > in.jsonl
$EXEC_PREFIX tok-chatml --format text -t tk/tokenizer.json -o out.tok in.jsonl
rc=$?
for f in out.tok*; do [ -e "$f" ] && echo "left behind: $f"; done
exit $rc
