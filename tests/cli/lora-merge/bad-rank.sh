# Refused adapter: rank disagrees with r. Exit 65, no output directory (nor its temporary) left behind.
cp -R "$QT_TEST_SRCDIR/data/lora/peft-rs" a
sed -i 's/"r": 4/"r": 8/' a/adapter_config.json
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a a -o out
rc=$?
ls
exit $rc
