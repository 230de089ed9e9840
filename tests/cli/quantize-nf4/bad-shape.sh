# config.json and the tensors disagree (hidden_size): exit 65, nothing written.
cp -R "$QT_TEST_SRCDIR/data/nf4-model/src" m
sed -i "s/\"hidden_size\": 64/\"hidden_size\": 128/; s/\"head_dim\": 16/\"head_dim\": 32/" m/config.json
$EXEC_PREFIX quantize-nf4 -o out m
rc=$?
ls
exit $rc
