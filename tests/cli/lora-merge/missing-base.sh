$EXEC_PREFIX lora-merge -m nowhere -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o out
rc=$?
ls
exit $rc
