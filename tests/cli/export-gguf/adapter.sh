# The adapter of the tiny model, default f32 and bf16.
t="$QT_TEST_SRCDIR/data/export"
$EXEC_PREFIX export-gguf --adapter "$t/tiny-lora" -m "$t/tiny" -o lora.gguf 2>&1 | sed 's/ in [0-9.]* s$//' || exit 1
$EXEC_PREFIX export-gguf --type bf16 --adapter "$t/tiny-lora" -m "$t/tiny" -o lora16.gguf 2>&1 | sed 's/ in [0-9.]* s$//' || exit 1
ls
