$EXEC_PREFIX lora-merge --version
