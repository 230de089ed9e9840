# Model directory absent: exit 66, no output file.
echo "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" > p.jsonl
$EXEC_PREFIX gen -m no-such-dir -o out.jsonl p.jsonl
rc=$?
ls
exit $rc
