# A Llama config with attention_bias or mlp_bias true over weights without the bias tensors:
# gen refuses the model (exit 65, naming the first missing tensor) rather than run it without
# them; no output file. (Models with biases run: tests/kernels/model/test_families.c.)
cp -RL "$QT_TEST_SRCDIR/data/gen/tiny" m
echo '{"content":"hello"}' > p.jsonl
for k in attention_bias mlp_bias; do
	sed "s/\"$k\": false/\"$k\": true/" "$QT_TEST_SRCDIR/data/gen/tiny/config.json" > m/config.json
	$EXEC_PREFIX gen -q -m m --prompt-key content --max-new-tokens 2 -o out.jsonl p.jsonl
	echo "$k: exit $?"
done
ls
