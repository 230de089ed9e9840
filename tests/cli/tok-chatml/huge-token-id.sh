# A tokenizer.json whose vocabulary claims an id near 10^9: refused (65) before the id tables are
# allocated (13 bytes per id up to the highest: 13 GB asked for, and the run went on).
. "$CASE_DIR/lib.sh"
sed 's/"!":17,/"!":999999999,/' "$T" > t.json
echo '{"messages":[{"role":"user","content":"hi"}]}' > m.jsonl
$EXEC_PREFIX tok-chatml -t t.json -o out.tok m.jsonl
rc=$?
ls
exit $rc
