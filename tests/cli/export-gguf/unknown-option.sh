$EXEC_PREFIX export-gguf --bogus -o x.gguf m
