# gen --adapter with a prefix on the default model (SmolLM2-135M-Instruct, 30 layers, GQA 9/3;
# tests/ref/prefix_smollm2_golden.py: 8 slots, N(0, 1)): for the first 8 prompts of
# tests/data/gen/greedy-prompts.jsonl the 16 greedy ids equal PeftModel's by full forwards, at
# batch 8 and 1, and with qlora_tools_prefix_positions 0 added to its config those of
# transformers given position_ids 0.. after PEFT's prompt. Skips without the model (make model).
if [ -z "${QT_MODEL_DIR:-}" ] || [ ! -f "$QT_MODEL_DIR/config.json" ]; then
	echo "SKIP: default model not available (make model)" >&2
	exit 77
fi
D="$QT_TEST_SRCDIR/data/prefix"
head -n 8 "$QT_TEST_SRCDIR/data/gen/greedy-prompts.jsonl" > p.jsonl
A="-q -m $QT_MODEL_DIR --max-new-tokens 16 --ids"
ids() { sed 's/.*"predict_ids":\[\([^]]*\)\].*/\1/' "$1"; }
$EXEC_PREFIX gen $A --adapter "$D/smollm2-prefix" --batch 8 -o b8.jsonl p.jsonl || exit 1
$EXEC_PREFIX gen $A --adapter "$D/smollm2-prefix" --batch 1 -o b1.jsonl p.jsonl || exit 1
ids b8.jsonl | cmp - "$D/smollm2-prefix-greedy.ids" || exit 1
ids b1.jsonl | cmp - "$D/smollm2-prefix-greedy.ids" || exit 1
cp -R "$D/smollm2-prefix" pos0
sed -i 's/"peft_type"/"qlora_tools_prefix_positions": 0,\n  "peft_type"/' pos0/adapter_config.json
$EXEC_PREFIX gen $A --adapter pos0 -o p0.jsonl p.jsonl || exit 1
ids p0.jsonl | cmp - "$D/smollm2-prefix-pos0-greedy.ids" || exit 1
echo ok
