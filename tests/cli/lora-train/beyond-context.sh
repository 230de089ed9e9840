# Blocks longer than the model's context (max_position_embeddings 256, blocks of 512): exit 65
# naming the pack and the limit, no output directory.
set -e
mkdir m
cp "$QT_TEST_SRCDIR/data/sft-tiny/model.safetensors" "$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json" m/
sed 's/"max_position_embeddings": 2048/"max_position_embeddings": 256/' \
  "$QT_TEST_SRCDIR/data/sft-tiny/config.json" > m/config.json
echo '{"content":"类型#裙*颜色#蓝色","summary":"蓝色的裙子"}' > d.jsonl
tok-chatml -q -t m/tokenizer.json --chat-config "$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer_config.json" \
  --prompt-key content --response-key summary -o d.tok d.jsonl
pack -q --seq-len 512 -o d.pack d.tok
set +e
$EXEC_PREFIX lora-train -m m --train d.pack -o out --max-steps 1 --quiet --device cpu
rc=$?
ls
exit $rc
