$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base" -a nowhere -o out
rc=$?
ls
exit $rc
