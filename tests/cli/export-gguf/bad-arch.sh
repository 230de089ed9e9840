# A model_type llama.cpp has no architecture for (that we write): 65, nothing written.
cp -r "$QT_TEST_SRCDIR/data/export/tiny" m
sed 's/"model_type": "llama"/"model_type": "gpt_neox"/' "$QT_TEST_SRCDIR/data/export/tiny/config.json" > m/config.json
$EXEC_PREFIX export-gguf -o m.gguf m
rc=$?
ls
exit $rc
