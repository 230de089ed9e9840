$EXEC_PREFIX import-gguf --help
