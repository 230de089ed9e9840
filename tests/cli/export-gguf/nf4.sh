# An NF4 directory is dequantized (bitsandbytes' dequantize_4bit) and exported.
$EXEC_PREFIX quantize-nf4 -q -o nf4 "$QT_TEST_SRCDIR/data/export/tiny" || exit 1
$EXEC_PREFIX export-gguf --type q8_0 -o m.gguf nf4 2>&1 | sed 's/ in [0-9.]* s$//'
