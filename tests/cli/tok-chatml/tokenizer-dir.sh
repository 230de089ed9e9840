# -t DIR: a model directory means its tokenizer.json (and the tokenizer_config.json beside
# it): the same stream as -t DIR/tokenizer.json. tok-cat -t takes a directory the same way.
D=$QT_TEST_SRCDIR/data/chatml
M=$QT_TEST_SRCDIR/data/gen/tiny
$EXEC_PREFIX tok-chatml -q -t "$M" -o a.tok "$D/auto.jsonl" || exit 1
$EXEC_PREFIX tok-chatml -q -t "$M/tokenizer.json" -o b.tok "$D/auto.jsonl" || exit 1
cmp a.tok b.tok && echo same
$EXEC_PREFIX tok-cat --text -t "$M" a.tok | head -n 1 | cut -c1-20
