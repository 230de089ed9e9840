# tokenizer.ggml.pre "starcoder" (also refact, command-r, ...: names llama.cpp splits exactly
# as smollm) gives the same tokenizer.json as "smollm" (tiny-vocab-starcoder.gguf is
# tiny-vocab.gguf with only that key changed; tests/ref/vocab_only_gguf.py). llama.cpp's own
# vocab tests agree on the real vocabularies: tests/ref/import_gguf_vocab_check.py.
D=$QT_TEST_SRCDIR/data/gguf
$EXEC_PREFIX import-gguf -q --tokenizer-only -o a "$D/tiny-vocab.gguf" || exit 1
$EXEC_PREFIX import-gguf -q --tokenizer-only -o b "$D/tiny-vocab-starcoder.gguf" || exit 1
cmp a/tokenizer.json b/tokenizer.json && echo same
