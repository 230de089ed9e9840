$EXEC_PREFIX tok-cat --bogus
