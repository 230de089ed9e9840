$EXEC_PREFIX pack --version
