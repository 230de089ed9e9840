# A Unigram GGUF (tokenizer.ggml.model "t5": llama.cpp's UGM) with a precompiled_charsmap of
# five rules, three user-defined <extra_id_N> and five UNUSED [PADn], written as llama.cpp's
# converter writes one (tests/ref/import_gguf_t5_check.py): --tokenizer-only writes a
# tokenizer.model (SentencePiece Unigram) holding the same pieces; ids equal llama.cpp's
# (llama-cpp-python 0.3.36) on the strings the charsmap changes and more, then the eos.
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$QT_TEST_SRCDIR/data/gguf/vocab-t5-rules.gguf" || exit 1
ls tk
$EXEC_PREFIX tok-chatml -q --format text -t tk -o out.tok "$QT_TEST_SRCDIR/data/import/t5_strings.jsonl" || exit 1
$EXEC_PREFIX tok-cat out.tok
