# A non-string value.
printf "{\"predict\": [\"a\"], \"labels\": \"b\"}\n" > in.jsonl
$EXEC_PREFIX rouge-zh in.jsonl
