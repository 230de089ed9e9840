# Input directory missing: exit 66, nothing written.
$EXEC_PREFIX quantize-nf4 -o out nonexistent
rc=$?
ls
exit $rc
