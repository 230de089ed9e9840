# tokenizer.ggml.pre "chameleon" (sentinel and image-token regexes): a name the
# rebuild does not know: refused by name, with the supported names; nothing written.
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$QT_TEST_SRCDIR/data/gguf/tiny-vocab-chameleon.gguf"
rc=$?
ls
exit $rc
