$EXEC_PREFIX import-gguf -q -o model "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf" || exit 1
ls model
cat model/config.json model/generation_config.json
head -c 120 model/tokenizer.json; echo
ls | grep -q '\.tmp\.' && echo "temporary left behind"
# a second run replaces the directory
$EXEC_PREFIX import-gguf -q --dtype f32 -o model "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf" || exit 1
grep torch_dtype model/config.json
