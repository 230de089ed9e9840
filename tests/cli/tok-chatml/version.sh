$EXEC_PREFIX tok-chatml --version
