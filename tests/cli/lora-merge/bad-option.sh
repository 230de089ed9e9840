$EXEC_PREFIX lora-merge --bogus
