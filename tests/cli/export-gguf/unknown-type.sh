# A llama.cpp type export-gguf does not write: bad input (65), no file.
$EXEC_PREFIX export-gguf --type q4_1 -o m.gguf "$QT_TEST_SRCDIR/data/export/tiny"
rc=$?
ls
exit $rc
