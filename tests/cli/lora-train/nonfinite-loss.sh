# A starting adapter with a huge (finite) value makes the first step's loss NaN: the run stops
# (65) naming the step, before any update; no adapter is written and log.jsonl stays valid JSON.
# 6048 is the file offset of layers.0.mlp.down_proj.lora_B.weight (F32) in the committed init
# adapter; element 0 := FLT_MAX.
cp -R "$QT_TEST_SRCDIR/data/lora_train/init" a
printf '\377\377\177\177' | dd of=a/adapter_model.safetensors bs=1 seek=6048 conv=notrunc 2>/dev/null
$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" --train "$QT_TEST_SRCDIR/data/lora_train/train.pack" \
	--init-adapter a -o out --max-steps 4 --save-every 1 --quiet
echo "exit $?"
ls out
grep -c nan out/log.jsonl || true
