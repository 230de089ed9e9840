# A bad JSON line: exit 65 naming file:line, no output file.
printf "%s\n" "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" "{\"messages\": [" > p.jsonl
$EXEC_PREFIX gen -m "$QT_TEST_SRCDIR/data/gen/tiny" -o out.jsonl p.jsonl
rc=$?
ls
exit $rc
