# A dictionary line without a frequency: exit 65 naming the line.
printf '今天 10 t\n天气\n' > d.txt
printf '{"predict": "a", "labels": "b"}\n' > in.jsonl
$EXEC_PREFIX rouge-zh --dict d.txt in.jsonl
