# A vocabulary-only GGUF (llama.cpp ships them; tests/ref/vocab_only_gguf.py): import-gguf says
# the file has no weights and names --tokenizer-only (65, nothing written), which writes
# tokenizer.json and tokenizer_config.json, the same files as the full import of the same
# vocabulary.
D=$QT_TEST_SRCDIR/data/gguf
$EXEC_PREFIX import-gguf -q -o m "$D/tiny-vocab.gguf"
echo "exit $?"
ls
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$D/tiny-vocab.gguf" || exit 1
ls tk
import-gguf -q -o full "$D/tiny-llama.gguf" || exit 1
cmp tk/tokenizer.json full/tokenizer.json && cmp tk/tokenizer_config.json full/tokenizer_config.json && echo same
