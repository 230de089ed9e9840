# A tokenizer_config.json without chat_template takes chat_template.jinja from its directory
# (transformers >= 4.43 saves it there).
D=$QT_TEST_SRCDIR/data/chatml
mkdir tk && cp "$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json" tk/
echo '{"eos_token":"<|im_end|>","pad_token":"<|im_end|>"}' > tk/tokenizer_config.json
printf '%s' "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
' }}{% endif %}{{'<|im_start|>' + message['role'] + '
' + message['content'] + '<|im_end|>' + '
'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
' }}{% endif %}" > tk/chat_template.jinja
$EXEC_PREFIX tok-chatml -q -t tk/tokenizer.json -o out.tok "$D/auto.jsonl" || exit 1
$EXEC_PREFIX tok-cat out.tok | cmp - "$D/auto.golden"
