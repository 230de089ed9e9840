# The summary line: without --val there is no evaluation, so no "eval loss" (it said
# "eval loss nan"); with --val the eval loss is there. -h is the full help, on stdout.
P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
M="$QT_TEST_SRCDIR/data/llama/tiny"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o a --max-steps 2 --device cpu 2> a.err || { cat a.err; exit 1; }
$EXEC_PREFIX lora-train -m "$M" --train "$P" --val "$P" -o b --max-steps 2 --device cpu 2> b.err || { cat b.err; exit 1; }
echo "without --val: $(grep -c 'eval loss' a.err) eval, $(grep -c 'nan' a.err) nan, $(grep -c 'final loss' a.err) summary"
echo "with --val: $(grep -c 'eval loss [0-9]' b.err) eval"
$EXEC_PREFIX lora-train -h | grep -c -- '--max-grad-norm x    gradient clipping (default 1.0; 0 = off)'
