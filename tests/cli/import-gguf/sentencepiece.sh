# A SentencePiece GGUF (tokenizer.ggml.model "llama": llama.cpp's ggml-vocab-llama-spm.gguf,
# Llama-2's vocabulary, no merges): --tokenizer-only writes, byte for byte, the tokenizer.json
# transformers 5.25 builds from it (tests/data/tokenizer/spm/tokenizer.json, written by
# tests/ref/tokenizer_spm.py, plus the final newline), merges rebuilt from the scores.
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$QT_TEST_SRCDIR/data/gguf/vocab-llama-spm.gguf" || exit 1
printf '\n' | cat "$QT_TEST_SRCDIR/data/tokenizer/spm/tokenizer.json" - | cmp - tk/tokenizer.json && echo same
