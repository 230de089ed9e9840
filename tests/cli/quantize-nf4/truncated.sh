# A truncated safetensors file: exit 65, nothing written.
cp -R "$QT_TEST_SRCDIR/data/nf4-model/src" m
head -c 100000 "$QT_TEST_SRCDIR/data/nf4-model/src/model.safetensors" > m/model.safetensors
$EXEC_PREFIX quantize-nf4 -o out m
rc=$?
ls
exit $rc
