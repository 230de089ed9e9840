# A NaN in the adapter: exit 65 naming the file and tensor, no output. 31144 is the file offset of
# layers.0.self_attn.q_proj.lora_B.weight (F32) in the committed peft-r8; element 3 := NaN.
cp -R "$QT_TEST_SRCDIR/data/lora/peft-r8" a
printf '\000\000\300\177' | dd of=a/adapter_model.safetensors bs=1 seek=$((31144 + 12)) conv=notrunc 2>/dev/null
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a a -o out
rc=$?
ls
exit $rc
