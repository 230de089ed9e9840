# tokenizer.ggml.model "bert" (WordPiece; tiny-vocab.gguf with that key changed,
# tests/ref/vocab_only_gguf.py): refused by name with the supported models; nothing written.
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$QT_TEST_SRCDIR/data/gguf/tiny-vocab-bert.gguf"
rc=$?
ls
exit $rc
