# Prompts in a gzip stream cut short: 65, no output.
printf '{"content":"hello %s"}\n' $(seq 1 200) | gzip -c > p.gz
head -c $(($(wc -c < p.gz) - 20)) p.gz > t.gz
$EXEC_PREFIX gen -m "$QT_TEST_SRCDIR/data/gen/tiny" --prompt-key content --max-new-tokens 1 -o out.jsonl t.gz
rc=$?
ls
exit $rc
