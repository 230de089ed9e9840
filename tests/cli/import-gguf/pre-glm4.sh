# tokenizer.ggml.pre "glm4" on a 1500-merge vocabulary trained on the test strings taken whole
# (tests/ref/import_gguf_pre_check.py golden): its tokens cross the places where pre-tokenizers
# split, so the ids show how the rebuilt tokenizer.json splits. Expected: llama.cpp's ids
# (llama-cpp-python 0.3.36), then the eos --format text appends.
$EXEC_PREFIX import-gguf -q --tokenizer-only -o tk "$QT_TEST_SRCDIR/data/gguf/tiny-vocab-glm4.gguf" || exit 1
$EXEC_PREFIX tok-chatml -q --format text -t tk -o out.tok "$QT_TEST_SRCDIR/data/import/pre_strings.jsonl" || exit 1
$EXEC_PREFIX tok-cat out.tok
