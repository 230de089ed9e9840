# Prompts as a .txt file (one per line) and as a JSON-array file give the same predictions as
# the same prompts in JSON Lines; TRL's conversational prompt/completion records take the
# completion as the label.
M=$QT_TEST_SRCDIR/data/gen/tiny
printf 'hello\nWhat is the capital of France?\n' > p.txt
printf '%s\n' '{"messages":[{"role":"user","content":"hello"}]}' \
  '{"messages":[{"role":"user","content":"What is the capital of France?"}]}' > p.jsonl
printf '[{"messages":[{"role":"user","content":"hello"}]},\n {"prompt":[{"role":"user","content":"What is the capital of France?"}],\n  "completion":[{"role":"assistant","content":"Paris"}]}]\n' > p.json
g() { $EXEC_PREFIX gen -q -m "$M" --max-new-tokens 4 --ids "$@"; }
g -o a.jsonl p.jsonl && g -o b.jsonl p.txt && g -o c.jsonl p.json || exit 1
cmp a.jsonl b.jsonl && echo "txt = jsonl"
sed "s/\"labels\":\"Paris\"/\"labels\":null/" c.jsonl | cmp - a.jsonl && echo "array = jsonl"
grep -c '"labels":"Paris"' c.jsonl
