# A Mistral model whose sliding window (8) is shorter than its context: llama.cpp's llama
# architecture has no window, so the export would attend past it; exit 65, no file.
cp -R "$QT_TEST_SRCDIR/data/family/mistral-window" m
cp "$QT_TEST_SRCDIR/data/export/tiny/tokenizer.json" "$QT_TEST_SRCDIR/data/export/tiny/tokenizer_config.json" m/
$EXEC_PREFIX export-gguf -q -o out.gguf m
rc=$?
ls
exit $rc
