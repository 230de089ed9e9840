# Rows with an empty prompt or response are dropped and counted (ChatGLM skips them), and so
# are conversations with nothing to train on.
. "$CASE_DIR/lib.sh"
printf '%s\n' '{"c":"a","s":""}' '{"c":"","s":"b"}' '{"c":"a","s":"b"}' > in.jsonl
$EXEC_PREFIX tok-chatml --prompt-key c --response-key s -t "$T" -o out.tok in.jsonl || exit 1
echo '{"messages":[{"role":"user","content":"only a question"}]}' > q.jsonl
$EXEC_PREFIX tok-chatml -t "$T" -o out2.tok q.jsonl
