# A config of another architecture: exit 65, nothing written.
cp -R "$QT_TEST_SRCDIR/data/nf4-model/src" m
sed -i "s/\"model_type\": \"llama\"/\"model_type\": \"gpt2\"/" m/config.json
$EXEC_PREFIX quantize-nf4 -o out m
rc=$?
ls
exit $rc
