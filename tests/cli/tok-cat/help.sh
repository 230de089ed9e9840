$EXEC_PREFIX tok-cat --help
