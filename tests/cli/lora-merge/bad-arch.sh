# A base of another architecture. Exit 65, nothing written.
cp -R "$QT_TEST_SRCDIR/data/lora/base" b
sed -i 's/"model_type": "llama"/"model_type": "gpt2"/' b/config.json
$EXEC_PREFIX lora-merge -m b -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o out
rc=$?
ls
exit $rc
