$EXEC_PREFIX tok-chatml x.jsonl
