# An empty file is zero records ("no prompts", as a file of blank lines), not an unknown archive.
: > e.jsonl
$EXEC_PREFIX gen -m "$QT_TEST_SRCDIR/data/gen/tiny" --prompt-key content -o out.jsonl e.jsonl
rc=$?
ls
exit $rc
