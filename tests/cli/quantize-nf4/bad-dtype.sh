# Quantized (U8) tensors under a plain config: exit 65, nothing written.
mkdir m
cp "$QT_TEST_SRCDIR/data/nf4-model/src/config.json" m/
cp "$QT_TEST_SRCDIR/data/nf4-model/hf-nf4/model.safetensors" m/
$EXEC_PREFIX quantize-nf4 -o out m
rc=$?
ls
exit $rc
