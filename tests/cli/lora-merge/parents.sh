# -o runs/x/merged: missing parents are created, as mkdir -p does.
$EXEC_PREFIX lora-merge -q -m "$QT_TEST_SRCDIR/data/lora/base" -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o runs/x/merged || exit 1
ls runs/x/merged
