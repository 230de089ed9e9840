$EXEC_PREFIX pack --info -
