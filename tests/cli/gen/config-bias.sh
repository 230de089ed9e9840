# A Llama config with attention_bias or mlp_bias true: the bias terms are not implemented, so
# gen refuses the model (exit 65, naming the key and its value) rather than give other tokens
# than transformers; no output file.
cp -RL "$QT_TEST_SRCDIR/data/gen/tiny" m
echo '{"content":"hello"}' > p.jsonl
for k in attention_bias mlp_bias; do
	sed "s/\"$k\": false/\"$k\": true/" "$QT_TEST_SRCDIR/data/gen/tiny/config.json" > m/config.json
	$EXEC_PREFIX gen -q -m m --prompt-key content --max-new-tokens 2 -o out.jsonl p.jsonl
	echo "$k: exit $?"
done
ls
