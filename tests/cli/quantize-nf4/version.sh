$EXEC_PREFIX quantize-nf4 --version
