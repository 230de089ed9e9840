# A Mistral config whose sliding_window is shorter than the longest sequence the run can see
# (the longest prompt + --max-new-tokens, within the context): sliding-window attention is not
# implemented, so gen refuses (exit 65, naming the key and its value). A window that covers
# every sequence of the run changes nothing and is accepted: the same ids as the Llama config.
cp -RL "$QT_TEST_SRCDIR/data/gen/tiny" m
echo '{"content":"hello"}' > p.jsonl
gen -q -m m --prompt-key content --max-new-tokens 4 --ids p.jsonl | sed 's/.*"predict_ids"/ids/' > llama.out
for w in 64 8; do
	sed -e 's/"LlamaForCausalLM"/"MistralForCausalLM"/' -e 's/"model_type": "llama"/"model_type": "mistral"/' \
	  -e "s/\"vocab_size\"/\"sliding_window\": $w, \"vocab_size\"/" "$QT_TEST_SRCDIR/data/gen/tiny/config.json" > m/config.json
	$EXEC_PREFIX gen -q -m m --prompt-key content --max-new-tokens 4 --ids -o out.jsonl p.jsonl
	echo "window $w: exit $?"
	[ -f out.jsonl ] && sed 's/.*"predict_ids"/ids/' out.jsonl | cmp - llama.out && echo "window $w: same ids"
	rm -f out.jsonl
done
