# A tokenizer.json with no tokenizer_config.json beside it: plain ChatML (reference 1.9), no
# default system prompt, with a warning; the same as --template chatml.
D=$QT_TEST_SRCDIR/data/chatml
mkdir tk && cp "$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json" tk/
$EXEC_PREFIX tok-chatml -t tk/tokenizer.json -o out.tok "$D/auto.jsonl" 2>err.txt || exit 1
grep warning err.txt
$EXEC_PREFIX tok-cat out.tok | cmp - "$D/nosys.golden"
