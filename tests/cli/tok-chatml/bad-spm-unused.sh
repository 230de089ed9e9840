# A SentencePiece model with an UNUSED piece (type 5).
printf '\012\005\012\001a\030\005' > tokenizer.model
echo '{"text":"a"}' > in.jsonl
$EXEC_PREFIX tok-chatml --format text -t tokenizer.model -o out.tok in.jsonl
rc=$?
for f in out.tok*; do [ -e "$f" ] && echo "left behind: $f"; done
exit $rc
