# --skip-bad: bad records are reported, counted and left out; the good ones are written.
. "$CASE_DIR/lib.sh"
good='{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}'
printf '%s\n{bad\n%s\n{"messages":[]}\n{"text":"\377"}\n%s\n' "$good" "$good" "$good" > in.jsonl
$EXEC_PREFIX tok-chatml --skip-bad -t "$T" -o out.tok in.jsonl || exit 1
$EXEC_PREFIX tok-cat --info out.tok | grep '^records:'
