$EXEC_PREFIX export-gguf --version
