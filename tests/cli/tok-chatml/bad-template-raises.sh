# A template that raises (Gemma's refuses a system message) fails the record: its file and
# line, and the template's own message, exit 65; with --skip-bad the record is counted.
. "$CASE_DIR/lib.sh"
cp "$QT_TEST_SRCDIR/data/chat_templates/corpus/google-gemma-2-2b-it.jinja" g.jinja
good='{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}'
printf '%s\n{"messages":[{"role":"system","content":"s"},{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n' "$good" > in.jsonl
$EXEC_PREFIX tok-chatml --skip-bad --template g.jinja -t "$T" -o ok.tok in.jsonl || exit 1
run_bad --template g.jinja in.jsonl
