# A WordLevel tokenizer: llama.cpp's byte-level BPE vocabulary cannot hold it (65).
cp -r "$QT_TEST_SRCDIR/data/export/tiny" m
cp "$QT_TEST_SRCDIR/data/lora/base/tokenizer.json" m/tokenizer.json
$EXEC_PREFIX export-gguf -o m.gguf m
rc=$?
ls
exit $rc
