# A JSONL record longer than the line limit (issue 23, hostile sizes: a 1 GB line): made here
# at run time, one byte over 64 MiB (a 1.1 GB line, tried by hand, does the same: 65 in under
# 2 s, at most 100 MB resident). tok-chatml, gen and rouge-zh refuse it with 65 naming the line
# and the limit, reading no further than the limit, and write nothing.
T="$QT_TEST_SRCDIR/data/gen/tiny"
{ printf '{"text":"'; head -c 67108864 /dev/zero | tr '\0' a; echo '"}'; } > long.jsonl
$EXEC_PREFIX tok-chatml -t "$T/tokenizer.json" --chat-config "$T/tokenizer_config.json" \
	--format text -o out.tok long.jsonl 2> err
echo "tok-chatml: exit $?: $(cat err)"
$EXEC_PREFIX gen -m "$T" --prompt-key text -o out.jsonl long.jsonl 2> err
echo "gen: exit $?: $(cat err)"
$EXEC_PREFIX rouge-zh -o out.json long.jsonl 2> err
echo "rouge-zh: exit $?: $(cat err)"
rm long.jsonl err
ls
