T=$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json
echo '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}' > a.jsonl
$EXEC_PREFIX tok-chatml -t "$T" -o out.tok a.jsonl nothere.jsonl
rc=$?
test ! -e out.tok && ls | grep -q tmp && echo "temp file left"
exit $rc
