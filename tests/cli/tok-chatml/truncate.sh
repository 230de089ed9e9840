# ChatGLM-style truncation: the source keeps its first tokens and the last
# "<|im_start|>assistant\n" (4 tokens), the target its first tokens and "<|im_end|>\n".
. "$CASE_DIR/lib.sh"
echo '{"q":"one two three four five six","a":"alpha beta gamma delta epsilon"}' > in.jsonl
$EXEC_PREFIX tok-chatml --template chatml --system '' --prompt-key q --response-key a -t "$T" in.jsonl | tok-cat
$EXEC_PREFIX tok-chatml --template chatml --system '' --prompt-key q --response-key a --max-source-len 7 \
  --max-target-len 5 -t "$T" in.jsonl | tok-cat
$EXEC_PREFIX tok-chatml -q --template chatml --system '' --prompt-key q --response-key a --max-len 17 -t "$T" \
  in.jsonl | tok-cat
$EXEC_PREFIX tok-chatml --template chatml --system '' --prompt-key q --response-key a --max-len 12 -t "$T" \
  in.jsonl | tok-cat
