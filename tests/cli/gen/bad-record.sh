# A record without a prompt column: exit 65 naming file:line.
printf "%s\n" "{\"content\":\"a\"}" "{\"summary\":\"b\"}" > p.jsonl
$EXEC_PREFIX gen -m "$QT_TEST_SRCDIR/data/gen/tiny" --prompt-key content -o out.jsonl p.jsonl
rc=$?
ls
exit $rc
