$EXEC_PREFIX pack -o out.pack nonexistent.tok
rc=$?
test ! -e out.pack || exit 99
exit $rc
