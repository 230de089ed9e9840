# --hyp without --ref.
$EXEC_PREFIX rouge-zh --hyp "$CASE_DIR/hyp.txt"
