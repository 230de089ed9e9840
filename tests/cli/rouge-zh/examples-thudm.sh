# reference.md 9.8 THUDM averages (E4 left out; --empty error passes).
$EXEC_PREFIX rouge-zh --empty error < "$CASE_DIR/examples-thudm.jsonl"
