$EXEC_PREFIX export-gguf --help
