$EXEC_PREFIX export-gguf -o m.gguf nosuch
rc=$?
ls
exit $rc
