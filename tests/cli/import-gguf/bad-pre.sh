# tokenizer.ggml.pre "falcon": llama.cpp emulates its Punctuation and Digits steps with regexes the
# rebuild does not know: refused by name, with the supported names; nothing written.
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$QT_TEST_SRCDIR/data/gguf/tiny-vocab-falcon.gguf"
rc=$?
ls
exit $rc
