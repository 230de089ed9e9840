$EXEC_PREFIX lora-merge --help
