# Config keys the training compute would ignore are refused (exit 65, naming the key and its
# value), before the output directory is made: attention_dropout other than 0. attention_bias /
# mlp_bias true over weights without the bias tensors are refused naming the first missing one.
# A Mistral sliding_window, shorter than the .pack's blocks or not, trains.
mkdir m
cp "$QT_TEST_SRCDIR/data/sft-tiny/model.safetensors" "$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json" m/
echo '{"content":"类型#裙*颜色#蓝色","summary":"蓝色的裙子"}' > d.jsonl
tok-chatml -q -t m/tokenizer.json --chat-config "$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer_config.json" \
  --prompt-key content --response-key summary -o d.tok d.jsonl || exit 1
pack -q --seq-len 64 -o d.pack d.tok || exit 1
cfg="$QT_TEST_SRCDIR/data/sft-tiny/config.json"
mistral() {
	sed -e 's/"LlamaForCausalLM"/"MistralForCausalLM"/' -e 's/"model_type": "llama"/"model_type": "mistral"/' \
	  -e "s/\"vocab_size\"/\"sliding_window\": $1, \"vocab_size\"/" "$cfg"
}
run() {
	$EXEC_PREFIX lora-train -m m --train d.pack -o out --max-steps 1 --quiet --device cpu
	echo "$1: exit $?"
	[ -d out ] && echo "$1: out made"
	rm -rf out
}
sed 's/"attention_bias": false/"attention_bias": true/' "$cfg" > m/config.json; run attention_bias
sed 's/"mlp_bias": false/"mlp_bias": true/' "$cfg" > m/config.json; run mlp_bias
sed 's/"attention_dropout": 0.0/"attention_dropout": 0.1/' "$cfg" > m/config.json; run attention_dropout
mistral 32 > m/config.json; run "sliding_window 32"
mistral 64 > m/config.json; run "sliding_window 64"
