# An NF4 base (quantize-nf4 output) runs unchanged; sampling is deterministic for a seed.
$EXEC_PREFIX quantize-nf4 -q -o q "$QT_TEST_SRCDIR/data/gen/tiny" || exit 1
echo "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" > p.jsonl
$EXEC_PREFIX gen -q -m q --max-new-tokens 4 --ids p.jsonl || exit 1
$EXEC_PREFIX gen -q -m q --max-new-tokens 4 --preset chatglm --seed 7 --ids p.jsonl > s1 || exit 1
$EXEC_PREFIX gen -q -m q --max-new-tokens 4 --preset chatglm --seed 7 --ids p.jsonl > s2 || exit 1
cmp s1 s2
