# tokenizer.ggml.pre "deepseek-llm" (llama.cpp runs six regexes in turn; tiny-vocab-deepseek-llm
# is tiny-vocab.gguf with only that key changed, tests/ref/vocab_only_gguf.py): the rebuilt
# tokenizer.json splits with each in turn; the ids equal HF tokenizers' on the same file
# (made with tokenizers 0.23.3). On the real vocabulary, llama.cpp's own test strings agree
# 46/46: tests/ref/import_gguf_vocab_check.py.
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$QT_TEST_SRCDIR/data/gguf/tiny-vocab-deepseek-llm.gguf" || exit 1
printf '%s\n' '"Hello, World! 123 世界\n\nÀé ok  "' '"x\r\n  y"' > in.jsonl
$EXEC_PREFIX tok-chatml -q --format text -t tk -o out.tok in.jsonl || exit 1
$EXEC_PREFIX tok-cat out.tok
