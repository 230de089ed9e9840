# A SentencePiece-style tokenizer.json (the Llama-2 vocabulary as transformers writes it for
# Mistral: Metaspace "first", byte_fallback) with Mistral-Nemo's own template: the ids equal
# transformers' apply_chat_template(tokenize=True) (made with transformers 5.25.0: "[INST]"
# after <s> gets no prefix space, "你" falls back to bytes), and tok-cat --text decodes them.
mkdir tk && cp "$QT_TEST_SRCDIR/data/tokenizer/spm/tokenizer.json" tk/
echo '{"bos_token":"<s>","eos_token":"</s>"}' > tk/tokenizer_config.json
printf '%s\n' '{"messages":[{"role":"user","content":"Hello world"},{"role":"assistant","content":"Hi there! 你好"}]}' > in.jsonl
$EXEC_PREFIX tok-chatml -q --template "$QT_TEST_SRCDIR/data/chat_templates/corpus/mistralai-Mistral-Nemo-Instruct-2407.jinja" \
  -t tk -o out.tok in.jsonl || exit 1
$EXEC_PREFIX tok-cat out.tok && $EXEC_PREFIX tok-cat --text -t tk/tokenizer.json out.tok
