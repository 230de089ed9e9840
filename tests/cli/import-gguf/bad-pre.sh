# tokenizer.ggml.pre "deepseek-coder": a pre-tokenizer with regexes of its own that the
# rebuild does not know: refused by name, with the supported names; nothing written.
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$QT_TEST_SRCDIR/data/gguf/tiny-vocab-deepseek-coder.gguf"
rc=$?
ls
exit $rc
