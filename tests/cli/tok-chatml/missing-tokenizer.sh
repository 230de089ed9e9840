echo '"x"' > a.jsonl
$EXEC_PREFIX tok-chatml -t nothere/tokenizer.json -o out.tok a.jsonl
rc=$?
test -e out.tok && echo "output left"
exit $rc
