$EXEC_PREFIX tok-cat nothere.tok
