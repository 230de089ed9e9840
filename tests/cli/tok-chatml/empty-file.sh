# An empty file is zero records (an empty .tok and the summary says 0 records), not an unknown
# archive (it was exit 66, "Unrecognized archive format").
. "$CASE_DIR/lib.sh"
: > e.jsonl
$EXEC_PREFIX tok-chatml -t "$T" -o out.tok e.jsonl || exit 1
$EXEC_PREFIX tok-cat out.tok | wc -l
