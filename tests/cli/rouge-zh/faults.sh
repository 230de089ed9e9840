# Full disk and I/O errors (issue 23): every create, write, fsync, rename and close that
# rouge-zh does failed in turn (tests/faultinj/lib.sh): exit 74 naming the file (-o,
# --per-sample) or stdout, nothing partial or temporary left, a previous output untouched.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
ok=0
FAULT_OUT="out.json per.jsonl" faults files '(out\.json|per\.jsonl)' rouge-zh --hyp "$CASE_DIR/hyp.txt" \
	--ref "$CASE_DIR/ref.txt" --per-sample per.jsonl -o out.json || ok=1
faults stdout 'stdout' rouge-zh "$CASE_DIR/examples.jsonl" || ok=1
exit $ok
