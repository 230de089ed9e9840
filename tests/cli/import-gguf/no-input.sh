$EXEC_PREFIX import-gguf -o out
