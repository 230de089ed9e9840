# An infinite weight: exit 65, nothing written. 219512 is the file offset of the first element
# of model.layers.0.self_attn.q_proj.weight (BF16) in the committed fixture; element 3 := +inf.
cp -R "$QT_TEST_SRCDIR/data/nf4-model/src" m
printf '\200\177' | dd of=m/model.safetensors bs=1 seek=$((219512 + 6)) conv=notrunc 2>/dev/null
$EXEC_PREFIX quantize-nf4 -o out m
rc=$?
ls
exit $rc
