# Greedy decoding on the tiny model equals transformers generate(do_sample=False)
# (tests/data/gen/tiny-greedy.ids, from tests/ref/gen_tiny_model.py), at batch 8 and 1;
# ADGEN-style columns with labels copied; the -o file equals what stdout gives.
printf "%s\n" "{\"content\":\"类型#上衣*颜色#白色\",\"summary\":\"白色上衣\"}" "{\"content\":\"hello\",\"summary\":\"hi\"}" "{\"content\":\"What is the capital of France?\",\"summary\":\"Paris\"}" > p.jsonl
$EXEC_PREFIX gen -q -m "$QT_TEST_SRCDIR/data/gen/tiny" --prompt-key content --label-key summary --max-new-tokens 8 --ids -o out.jsonl p.jsonl || exit 1
$EXEC_PREFIX gen -q -m "$QT_TEST_SRCDIR/data/gen/tiny" --prompt-key content --label-key summary --max-new-tokens 8 --ids --batch 1 < p.jsonl > b1.jsonl || exit 1
cmp out.jsonl b1.jsonl || exit 1
sed 's/.*"predict_ids":\[\([^]]*\)\].*/\1/' out.jsonl > ids
cmp ids "$QT_TEST_SRCDIR/data/gen/tiny-greedy.ids" || exit 1
cat out.jsonl
