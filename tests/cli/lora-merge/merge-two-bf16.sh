# Two adapters in order, each with its own scale, written as bf16 over an existing directory.
mkdir out && touch out/stale
$EXEC_PREFIX lora-merge --quiet --dtype bf16 -m "$QT_TEST_SRCDIR/data/lora/base" \
	-a "$QT_TEST_SRCDIR/data/lora/peft-r8" --scale 0.5 -a "$QT_TEST_SRCDIR/data/lora/peft-p2" -o out || exit $?
ls
ls out
grep '"dtype"' out/config.json
