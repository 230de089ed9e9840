# --no-double-quant: float32 absmax; quiet.
$EXEC_PREFIX quantize-nf4 -q --no-double-quant -b 128 -o out "$QT_TEST_SRCDIR/data/nf4-model/src" || exit 1
grep -c nested out/model.safetensors
