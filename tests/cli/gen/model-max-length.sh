# tokenizer_config.json with "model_max_length": 1000000000000000019884624838656 (what
# transformers writes when the length is unset): read as no limit, the same output as with 8192.
cp -RL "$QT_TEST_SRCDIR/data/gen/tiny" m
sed -i 's/"model_max_length": 8192,/"model_max_length": 1000000000000000019884624838656,/' m/tokenizer_config.json
grep -c 1000000000000000019884624838656 m/tokenizer_config.json
echo '{"content":"hello"}' > p.jsonl
$EXEC_PREFIX gen -q -m "$QT_TEST_SRCDIR/data/gen/tiny" --prompt-key content --max-new-tokens 4 --ids -o a.jsonl p.jsonl || exit 1
$EXEC_PREFIX gen -q -m m --prompt-key content --max-new-tokens 4 --ids -o b.jsonl p.jsonl || exit 1
cmp a.jsonl b.jsonl && echo same
