# A missing input file: exit 66, no output file.
$EXEC_PREFIX rouge-zh -o out.json nonexistent.jsonl
rc=$?
ls
exit $rc
