$EXEC_PREFIX rouge-zh --version
