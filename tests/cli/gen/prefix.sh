# gen --adapter with PEFT's prefix-tuning adapter (16 slots, tests/ref/prefix_golden.py): the
# greedy ids equal PeftModel's by full forwards, at batch 3 and 1; they differ from the base's.
printf "%s\n" "{\"content\":\"类型#上衣*颜色#白色\"}" "{\"content\":\"hello\"}" "{\"content\":\"What is the capital of France?\"}" > p.jsonl
A="-q -m $QT_TEST_SRCDIR/data/gen/tiny --prompt-key content --max-new-tokens 8 --ids"
$EXEC_PREFIX gen $A --adapter "$QT_TEST_SRCDIR/data/prefix/gen-tiny-prefix" -o out.jsonl p.jsonl || exit 1
$EXEC_PREFIX gen $A --adapter "$QT_TEST_SRCDIR/data/prefix/gen-tiny-prefix" --batch 1 -o b1.jsonl p.jsonl || exit 1
cmp out.jsonl b1.jsonl || exit 1
sed 's/.*"predict_ids":\[\([^]]*\)\].*/\1/' out.jsonl > ids
cmp ids "$QT_TEST_SRCDIR/data/prefix/gen-tiny-greedy.ids" || exit 1
$EXEC_PREFIX gen $A -o base.jsonl p.jsonl || exit 1
sed 's/.*"predict_ids":\[\([^]]*\)\].*/\1/' base.jsonl > base-ids
cmp -s ids base-ids && { echo "the prefix changes nothing"; exit 1; }
echo ok
