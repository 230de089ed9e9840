# The tiny model: the NF4 directory transformers writes (config.json byte for byte).
$EXEC_PREFIX quantize-nf4 --threads 2 -o out "$QT_TEST_SRCDIR/data/nf4-model/src" || exit 1
ls out
cmp out/config.json "$QT_TEST_SRCDIR/data/nf4-model/hf-nf4/config.json"
