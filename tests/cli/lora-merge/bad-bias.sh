# Refused adapter: LoRA bias. Exit 65, no output directory (nor its temporary) left behind.
cp -R "$QT_TEST_SRCDIR/data/lora/peft-r8" a
sed -i 's/"bias": "none"/"bias": "lora_only"/' a/adapter_config.json
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a a -o out
rc=$?
ls
exit $rc
