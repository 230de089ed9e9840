# --empty error (THUDM: rouge_chinese raises) on an empty prediction: exit 65 naming
# the line; neither output file is left behind.
$EXEC_PREFIX rouge-zh --empty error --per-sample per.jsonl -o out.json "$CASE_DIR/examples.jsonl"
rc=$?
ls
exit $rc
