$EXEC_PREFIX tok-chatml -t t.json --train-on users x.jsonl
