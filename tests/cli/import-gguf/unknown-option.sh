$EXEC_PREFIX import-gguf --bogus x.gguf
