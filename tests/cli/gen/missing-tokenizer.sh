# Model directory without tokenizer.json: exit 66, no output file.
cp -RL "$QT_TEST_SRCDIR/data/gen/tiny" m
rm m/tokenizer.json
echo "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" > p.jsonl
$EXEC_PREFIX gen -m m -o out.jsonl p.jsonl
rc=$?
ls
exit $rc
