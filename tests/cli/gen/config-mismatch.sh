# config.json disagrees with the weights (hidden_size): exit 65, no output file.
cp -RL "$QT_TEST_SRCDIR/data/gen/tiny" m
sed -i "s/\"hidden_size\": 8/\"hidden_size\": 16/" m/config.json
echo "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" > p.jsonl
$EXEC_PREFIX gen -m m -o out.jsonl p.jsonl
rc=$?
ls
exit $rc
