# gen --adapter with a prefix whose config says qlora_tools_prefix_positions 0 (ChatGLM's
# P-Tuning v2: the prompt's positions from 0 after the prefix): the greedy ids equal those of
# transformers given position_ids 0.. with PEFT's prompt as the cache, by full forwards
# (tests/ref/prefix_pos0_golden.py), at batch 3 and 1; they differ from those with the positions
# after the prefix (prefix.sh). End to end: lora-train continues from that adapter with
# --prefix-positions 0 (lr 0: the table stays), and gen on the adapter it writes gives the same.
printf "%s\n" "{\"content\":\"类型#上衣*颜色#白色\"}" "{\"content\":\"hello\"}" "{\"content\":\"What is the capital of France?\"}" > p.jsonl
M="$QT_TEST_SRCDIR/data/gen/tiny" D="$QT_TEST_SRCDIR/data/prefix"
A="-q -m $M --prompt-key content --max-new-tokens 8 --ids"
ids() { sed 's/.*"predict_ids":\[\([^]]*\)\].*/\1/' "$1"; }
$EXEC_PREFIX gen $A --adapter "$D/gen-tiny-prefix-pos0" -o out.jsonl p.jsonl || exit 1
$EXEC_PREFIX gen $A --adapter "$D/gen-tiny-prefix-pos0" --batch 1 -o b1.jsonl p.jsonl || exit 1
cmp out.jsonl b1.jsonl || exit 1
ids out.jsonl > ids
cmp ids "$D/gen-tiny-pos0-greedy.ids" || exit 1
cmp -s ids "$D/gen-tiny-greedy.ids" && { echo "positions from 0 change nothing"; exit 1; }
printf '%s\n' '{"content":"hello","summary":"world"}' '{"content":"类型#上衣","summary":"白色"}' > t.jsonl
$EXEC_PREFIX tok-chatml -t "$M" --prompt-key content --response-key summary t.jsonl |
	$EXEC_PREFIX pack --seq-len 64 -o t.pack --quiet || exit 1
$EXEC_PREFIX lora-train -m "$M" --train t.pack --method prefix --virtual-tokens 16 \
	--prefix-positions 0 --init-adapter "$D/gen-tiny-prefix-pos0" --lr 0 --max-steps 2 \
	-o run --quiet || exit 1
$EXEC_PREFIX gen $A --adapter run/adapter -o trained.jsonl p.jsonl || exit 1
ids trained.jsonl | cmp - "$D/gen-tiny-pos0-greedy.ids" || exit 1
echo ok
