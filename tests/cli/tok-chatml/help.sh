$EXEC_PREFIX tok-chatml --help
