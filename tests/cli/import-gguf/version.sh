$EXEC_PREFIX import-gguf --version
