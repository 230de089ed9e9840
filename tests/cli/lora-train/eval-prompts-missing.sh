# A missing --eval-prompts file is refused before training starts.
src=$QT_TEST_SRCDIR
mkdir model
cp "$src/data/sft-tiny/config.json" "$src/data/sft-tiny/model.safetensors" \
   "$src/data/tokenizer/smollm2/tokenizer.json" "$src/data/tokenizer/smollm2/tokenizer_config.json" \
   model/
$EXEC_PREFIX lora-train -m model --train "$src/data/lora_train/train.pack" -o out --max-steps 1 \
	--eval-prompts nowhere.jsonl --quiet
