# An adapter made for another base (hidden 64, the tiny model has 8): exit 65, no output.
echo "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" > p.jsonl
$EXEC_PREFIX gen -m "$QT_TEST_SRCDIR/data/gen/tiny" --adapter "$QT_TEST_SRCDIR/data/lora/peft-r8" -o out.jsonl p.jsonl 2>err
rc=$?
ls
sed "s|$QT_TEST_SRCDIR/||" err >&2
exit $rc
