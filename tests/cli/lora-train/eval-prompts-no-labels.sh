# --eval-prompts whose records have no reference answer is refused before training starts.
src=$QT_TEST_SRCDIR
mkdir model
cp "$src/data/sft-tiny/config.json" "$src/data/sft-tiny/model.safetensors" \
   "$src/data/tokenizer/smollm2/tokenizer.json" "$src/data/tokenizer/smollm2/tokenizer_config.json" \
   model/
printf '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n{"messages":[{"role":"user","content":"hello"}]}\n' > eval.jsonl
$EXEC_PREFIX lora-train -m model --train "$src/data/lora_train/train.pack" -o out --max-steps 1 \
	--eval-prompts eval.jsonl --quiet
rc=$?
[ ! -e out/adapter ] || echo "adapter written"
exit $rc
