# A prompt that leaves no room in the context (max_position_embeddings 64): exit 65,
# naming file:line; no output file.
printf "%s\n" "{\"content\":\"short\"}" "{\"content\":\"$(printf "word %.0s" $(seq 40))\"}" > p.jsonl
$EXEC_PREFIX gen -m "$QT_TEST_SRCDIR/data/gen/tiny" --prompt-key content -o out.jsonl p.jsonl
rc=$?
ls
exit $rc
