# tokenizer_config.json as transformers writes it when the length is unset (most Llama-2/3,
# Mistral and Qwen repositories): "model_max_length": 1000000000000000019884624838656, an
# integer no int64 holds. It means no limit: the same tokens as with SmolLM2's 8192.
D=$QT_TEST_SRCDIR/data/chatml
S=$QT_TEST_SRCDIR/data/tokenizer/smollm2
mkdir tk && cp "$S/tokenizer.json" tk/
sed 's/"model_max_length": 8192,/"model_max_length": 1000000000000000019884624838656,/' "$S/tokenizer_config.json" > tk/tokenizer_config.json
grep -c 1000000000000000019884624838656 tk/tokenizer_config.json
$EXEC_PREFIX tok-chatml -t tk/tokenizer.json -o out.tok "$D/auto.jsonl" || exit 1
$EXEC_PREFIX tok-cat out.tok | cmp - "$D/auto.golden" && echo same
