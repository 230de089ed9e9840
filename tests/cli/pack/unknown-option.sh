$EXEC_PREFIX pack --bogus
