$EXEC_PREFIX tok-chatml -t t.json --max-len 0 x.jsonl
