# --int8-activations is refused (exit 64, no output file) with --device cuda, and on a model
# with no NF4 weight it can take (a float model; an NF4 one whose rows are not a multiple of 64).
echo '{"messages":[{"role":"user","content":"hi"}]}' > p.jsonl
cp -RL "$QT_TEST_SRCDIR/data/gen/tiny" f
$EXEC_PREFIX gen -m f --int8-activations --device cuda -o out.jsonl p.jsonl 2>err
echo "cuda: $?"
head -n 1 err
$EXEC_PREFIX gen -m f --int8-activations --device cpu -o out.jsonl p.jsonl
echo "float model: $?"
$EXEC_PREFIX quantize-nf4 -q -o q f || exit 1
$EXEC_PREFIX gen -m q --int8-activations --device cpu -o out.jsonl p.jsonl
echo "NF4, 8 columns: $?"
ls
