$EXEC_PREFIX tok-cat --version
