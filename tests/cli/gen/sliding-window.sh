# A Mistral config's sliding_window: a window that covers every sequence of the run changes
# nothing (the same ids as the Llama config); one shorter than the sequences (8 of 35 tokens)
# hides the older keys, so the ids differ from some token on. Their equality with transformers'
# is tests/kernels/model/test_families.c's.
cp -RL "$QT_TEST_SRCDIR/data/gen/tiny" m
echo '{"content":"hello"}' > p.jsonl
gen -q -m m --prompt-key content --max-new-tokens 4 --ids p.jsonl | sed 's/.*"predict_ids"/ids/' > llama.out
for w in 64 8; do
	sed -e 's/"LlamaForCausalLM"/"MistralForCausalLM"/' -e 's/"model_type": "llama"/"model_type": "mistral"/' \
	  -e "s/\"vocab_size\"/\"sliding_window\": $w, \"vocab_size\"/" "$QT_TEST_SRCDIR/data/gen/tiny/config.json" > m/config.json
	$EXEC_PREFIX gen -q -m m --prompt-key content --max-new-tokens 4 --ids -o out.jsonl p.jsonl
	echo "window $w: exit $?"
	if sed 's/.*"predict_ids"/ids/' out.jsonl | cmp -s - llama.out; then echo "window $w: same ids"
	else echo "window $w: other ids"; fi
	rm -f out.jsonl
done
