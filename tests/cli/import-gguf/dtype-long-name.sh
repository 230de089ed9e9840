# --dtype takes the names transformers uses (one table with lora-merge's): bfloat16 == bf16.
set -eu
$EXEC_PREFIX import-gguf -q --dtype bf16 -o a "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf"
$EXEC_PREFIX import-gguf -q --dtype bfloat16 -o b "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf"
cmp a/model.safetensors b/model.safetensors
$EXEC_PREFIX import-gguf -q --dtype float32 -o c "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf"
$EXEC_PREFIX import-gguf -q --dtype f32 -o d "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf"
cmp c/model.safetensors d/model.safetensors
echo ok
