. "$CASE_DIR/lib.sh"
printf '{"q":"a","r":"b","h":[["x"]]}\n' > in.jsonl
run_bad --prompt-key q --response-key r --history-key h in.jsonl
