# A flipped byte in block 0 of the .pack: exit 65 naming the block, no output directory left.
cp "$QT_TEST_SRCDIR/data/lora_train/train.pack" c.pack
printf '\377' | dd of=c.pack bs=1 seek=200 conv=notrunc 2>/dev/null
$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" --train c.pack -o out
rc=$?
ls
exit $rc
