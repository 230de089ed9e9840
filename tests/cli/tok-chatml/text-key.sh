# --format text: a JSON string per line, or --prompt-key naming the text column; every token
# Ids checked with HF tokenizers 0.23.3 (encode_special_tokens=True).
# is trained and eos (id 2 for SmolLM2's config) ends each document.
. "$CASE_DIR/lib.sh"
printf '%s\n' '"Hello world! 123"' '{"body":"<|im_start|>"}' > in.jsonl
$EXEC_PREFIX tok-chatml -q --format text --prompt-key body -t "$T" in.jsonl | tok-cat
