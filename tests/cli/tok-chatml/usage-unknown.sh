$EXEC_PREFIX tok-chatml --bogus x.jsonl
