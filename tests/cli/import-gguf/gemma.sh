# A Gemma SentencePiece GGUF (tokenizer.ggml.model "llama", architecture gemma,
# add_space_prefix false, <end_of_turn> user-defined: llama.cpp makes it control), written
# as llama.cpp's converter writes one from a SentencePiece BPE trained on the corpus
# (tests/ref/import_gguf_gemma_check.py): the rebuilt tokenizer.json turns spaces into U+2581
# without a prefix; ids equal llama.cpp's (llama-cpp-python 0.3.36), then the eos.
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$QT_TEST_SRCDIR/data/gguf/vocab-gemma.gguf" || exit 1
$EXEC_PREFIX tok-chatml -q --format text -t tk -o out.tok "$QT_TEST_SRCDIR/data/import/gemma_strings.jsonl" || exit 1
$EXEC_PREFIX tok-cat out.tok
