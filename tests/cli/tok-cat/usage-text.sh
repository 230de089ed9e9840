$EXEC_PREFIX tok-cat --text t.tok
