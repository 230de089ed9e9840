# A NaN in the base model's weights: exit 65 naming the tensor, no output directory (it trained
# with loss nan and wrote an adapter). 281112 is the file offset of
# model.layers.0.self_attn.q_proj.weight (F32) in the committed tiny model; element 1 := NaN.
cp -R "$QT_TEST_SRCDIR/data/llama/tiny" m
printf '\000\000\300\177' | dd of=m/model.safetensors bs=1 seek=$((281112 + 4)) conv=notrunc 2>/dev/null
$EXEC_PREFIX lora-train -m m --train "$QT_TEST_SRCDIR/data/lora_train/train.pack" -o out --max-steps 2 --quiet
rc=$?
ls
exit $rc
