# An infinity in the base model: exit 65 naming the tensor, no output (it wrote a merged model
# full of NaN). 256608 is the file offset of model.layers.0.self_attn.q_proj.weight (F32) in the
# committed base; element 0 := +inf.
cp -R "$QT_TEST_SRCDIR/data/lora/base" b
printf '\000\000\200\177' | dd of=b/model.safetensors bs=1 seek=256608 conv=notrunc 2>/dev/null
$EXEC_PREFIX lora-merge -m b -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o out
rc=$?
ls
exit $rc
