# Refused adapter: modules_to_save. Exit 65, no output directory (nor its temporary) left behind.
cp -R "$QT_TEST_SRCDIR/data/lora/peft-rs" a
sed -i 's/"modules_to_save": null/"modules_to_save": ["lm_head"]/' a/adapter_config.json
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a a -o out
rc=$?
ls
exit $rc
