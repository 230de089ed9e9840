# A JSON-array file (alpaca_data.json, LLaMA-Factory's data files: [{...}, {...}], pretty-
# printed or not, brackets and quotes inside strings) gives the same tokens as the same
# records as JSON Lines; a bad record is named by the line its element starts on.
S=$QT_TEST_SRCDIR/data/tokenizer/smollm2
cat > alpaca.json <<'J'
[
  {
    "instruction": "Give three tips.",
    "input": "",
    "output": "1. Eat.\n2. Sleep.\n3. Move."
  },
  {"instruction": "What is [1, 2]?", "input": "a \"list\", {braces}", "output": "A list."},{"instruction":"x","output":"y"}
]
J
cat > alpaca.jsonl <<'J'
{"instruction": "Give three tips.", "input": "", "output": "1. Eat.\n2. Sleep.\n3. Move."}
{"instruction": "What is [1, 2]?", "input": "a \"list\", {braces}", "output": "A list."}
{"instruction":"x","output":"y"}
J
tk() { $EXEC_PREFIX tok-chatml -q -t "$S/tokenizer.json" --chat-config "$S/tokenizer_config.json" "$@"; }
tk -o a.tok alpaca.json || exit 1
tk -o b.tok alpaca.jsonl || exit 1
tok-cat a.tok > a.txt; tok-cat b.tok > b.txt
cmp a.txt b.txt && echo "array = jsonl: $(wc -l < a.txt) records"
printf '[\n  {"instruction": "a", "output": "b"},\n\n  {"question": "c"}\n]\n' > bad.json
tk -o c.tok bad.json; echo "exit $?"
printf '[{"instruction": "a", "output": "b"}\n' > open.json
tk -o c.tok open.json; echo "exit $?"
printf '[{"instruction": "a", "output": "b"}] x\n' > after.json
tk -o c.tok after.json; echo "exit $?"
for f in c.tok*; do [ -e "$f" ] && echo "left behind: $f"; done; true
