# Refused adapter: another PEFT method. Exit 65, no output directory (nor its temporary) left behind.
cp -R "$QT_TEST_SRCDIR/data/lora/peft-r8" a
sed -i 's/"peft_type": "LORA"/"peft_type": "IA3"/' a/adapter_config.json
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a a -o out
rc=$?
ls
exit $rc
