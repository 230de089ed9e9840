$EXEC_PREFIX pack --help
