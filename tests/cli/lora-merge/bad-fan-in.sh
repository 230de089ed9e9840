# Refused adapter: Conv1D layout. Exit 65, no output directory (nor its temporary) left behind.
cp -R "$QT_TEST_SRCDIR/data/lora/peft-rs" a
sed -i 's/"fan_in_fan_out": false/"fan_in_fan_out": true/' a/adapter_config.json
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a a -o out
rc=$?
ls
exit $rc
