# Refused adapter: adapter_model.bin only. Exit 65, no output directory (nor its temporary) left behind.
cp -R "$QT_TEST_SRCDIR/data/lora/peft-rs" a
mv a/adapter_model.safetensors a/adapter_model.bin
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a a -o out
rc=$?
ls
exit $rc
