# Two adapters in order, each with its own scale, written as bf16 over an existing output (a
# directory with config.json and only regular files: replaced whole).
mkdir out && touch out/stale out/config.json
$EXEC_PREFIX lora-merge --quiet --dtype bf16 -m "$QT_TEST_SRCDIR/data/lora/base" \
	-a "$QT_TEST_SRCDIR/data/lora/peft-r8" --scale 0.5 -a "$QT_TEST_SRCDIR/data/lora/peft-p2" -o out || exit $?
ls
ls out
grep '"dtype"' out/config.json
