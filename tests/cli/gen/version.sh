$EXEC_PREFIX gen --version
