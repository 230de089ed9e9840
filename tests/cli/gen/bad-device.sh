# An unknown --device name is a usage error; no output file is written.
echo '{"messages":[{"role":"user","content":"hi"}]}' > p.jsonl
$EXEC_PREFIX gen -m "$QT_TEST_SRCDIR/data/gen/tiny" --device gpu -o out.jsonl p.jsonl
rc=$?
[ ! -e out.jsonl ] || exit 1
exit $rc
