# A SentencePiece model with a piece of type 7 (SentencePiece has 1-6; UNUSED, 5, is read
# and never produced).
printf '\012\005\012\001a\030\007' > tokenizer.model
echo '{"text":"a"}' > in.jsonl
$EXEC_PREFIX tok-chatml --format text -t tokenizer.model -o out.tok in.jsonl
rc=$?
for f in out.tok*; do [ -e "$f" ] && echo "left behind: $f"; done
exit $rc
