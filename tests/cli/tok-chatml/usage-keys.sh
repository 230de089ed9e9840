$EXEC_PREFIX tok-chatml -t t.json --prompt-key content x.jsonl
