$EXEC_PREFIX tok-chatml -t t.json --format text --system hi x.jsonl
