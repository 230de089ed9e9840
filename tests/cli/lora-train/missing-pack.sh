# Missing .pack: exit 66, no output directory.
$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" --train nope.pack -o out
rc=$?
ls
exit $rc
