# A NaN in the model's weights: exit 65 naming the tensor, no output (it wrote empty predictions
# and exited 0). 788560 is the file offset of model.layers.0.self_attn.q_proj.weight (BF16) in the
# committed fixture; element 2 := NaN (0x7fc0).
cp -RL "$QT_TEST_SRCDIR/data/gen/tiny" m
printf '\300\177' | dd of=m/model.safetensors bs=1 seek=$((788560 + 4)) conv=notrunc 2>/dev/null
printf '%s\n' '{"content":"hello"}' > p.jsonl
$EXEC_PREFIX gen -m m --prompt-key content -o out.jsonl p.jsonl
rc=$?
ls
exit $rc
