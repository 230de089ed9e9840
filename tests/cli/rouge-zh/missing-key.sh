# A record without "labels".
printf "{\"predict\": \"a\", \"label\": \"b\"}\n" > in.jsonl
$EXEC_PREFIX rouge-zh in.jsonl
