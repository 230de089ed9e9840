# A rank above the smaller side of a targeted layer (the tiny model's q_proj is 64 x 64): exit
# 65 naming the layer, no output directory.
$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" \
  --train "$QT_TEST_SRCDIR/data/lora_train/train.pack" -o out --rank 65 --max-steps 1 --quiet \
  --device cpu
rc=$?
ls
exit $rc
