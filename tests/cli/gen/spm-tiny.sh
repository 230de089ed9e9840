# gen with a SentencePiece-style tokenizer.json (Llama-2 vocabulary, Metaspace, byte_fallback)
# and Mistral-Nemo's template: the prompt ids and the greedy continuation equal transformers'
# (tests/data/gen/tiny-spm-greedy.ids, from tests/ref/gen_tiny_spm.py). The tiny model's
# vocabulary (49152) is larger than the tokenizer's: ids the tokenizer does not know decode to
# nothing, as in transformers.
D=$QT_TEST_SRCDIR/data
mkdir m
for f in config.json generation_config.json model.safetensors; do ln -s "$D/gen/tiny/$f" m/$f; done
ln -s "$D/tokenizer/spm/tokenizer.json" m/tokenizer.json
echo '{"bos_token":"<s>","eos_token":"</s>"}' > m/tokenizer_config.json
printf '%s\n' '{"prompt":"Hello world"}' '{"prompt":"类型#上衣*颜色#白色"}' '{"prompt":" two  spaces\nand a line"}' > p.jsonl
$EXEC_PREFIX gen -q -m m --template "$D/chat_templates/corpus/mistralai-Mistral-Nemo-Instruct-2407.jinja" \
  --prompt-key prompt --max-new-tokens 8 --ids p.jsonl > out.jsonl || exit 1
sed 's/.*"predict_ids":\[\([^]]*\)\].*/\1/' out.jsonl > ids
cmp ids "$D/gen/tiny-spm-greedy.ids" || exit 1
sed 's/.*"prompt_tokens":\([0-9]*\).*/\1/' out.jsonl
