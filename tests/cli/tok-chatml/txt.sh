# A .txt corpus (also compressed) is raw text: one document per line, or with --split-on blank
# one per paragraph (lines joined by a newline); each is a --format text document (eos
# appended, every token trained), the same tokens as the JSON Lines text records.
S=$QT_TEST_SRCDIR/data/tokenizer/smollm2
printf 'Hello world.\nSecond "doc"\\line.\n\n   \nThird doc.\n' > corpus.txt
gzip -k corpus.txt
printf '%s\n' '"Hello world."' '"Second \"doc\"\\line."' '"Third doc."' > lines.jsonl
printf '%s\n' '"Hello world.\nSecond \"doc\"\\line."' '"Third doc."' > paras.jsonl
tk() { $EXEC_PREFIX tok-chatml -q -t "$S/tokenizer.json" --chat-config "$S/tokenizer_config.json" "$@"; }
tk -o a.tok corpus.txt && tk -o z.tok corpus.txt.gz && tk --format text -o b.tok lines.jsonl || exit 1
tok-cat a.tok > a; tok-cat z.tok > z; tok-cat b.tok > b
cmp a b && cmp a z && echo "lines: $(wc -l < a) documents"
tk --split-on blank -o a.tok corpus.txt && tk --format text -o b.tok paras.jsonl || exit 1
tok-cat a.tok > a; tok-cat b.tok > b
cmp a b && echo "paragraphs: $(wc -l < a) documents"
