# Shared by the tok-chatml cases: the SmolLM2 fixture, and run_bad, which runs tok-chatml with
# -o out.tok, reports any output or temporary file left behind, and exits with its status.
T=$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json
run_bad() {
	$EXEC_PREFIX tok-chatml -t "$T" -o out.tok "$@"
	rc=$?
	for f in out.tok*; do
		[ -e "$f" ] && echo "left behind: $f"
	done
	exit $rc
}
