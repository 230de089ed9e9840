# Prompts file absent: exit 66, no output file.
$EXEC_PREFIX gen -m "$QT_TEST_SRCDIR/data/gen/tiny" -o out.jsonl no-such.jsonl
rc=$?
ls
exit $rc
