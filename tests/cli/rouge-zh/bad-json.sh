# A line that is not JSON: exit 65 with file:line, no output file.
printf "{\"predict\": \"a\", \"labels\": \"b\"}\n{\"predict\": \n" > in.jsonl
$EXEC_PREFIX rouge-zh -o out.json in.jsonl
rc=$?
ls
exit $rc
