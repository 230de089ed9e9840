# A byte-level GGUF without tokenizer.ggml.pre (converters before 2024-05; made by
# tests/ref/vocab_only_gguf.py): refused, not silently split as GPT-2; nothing written.
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$QT_TEST_SRCDIR/data/gguf/tiny-vocab-nopre.gguf"
rc=$?
ls
exit $rc
