# A SentencePiece model of type WORD (3): only Unigram and BPE are read.
printf '\012\003\012\001a\022\002\030\003' > tokenizer.model
echo '{"text":"a"}' > in.jsonl
$EXEC_PREFIX tok-chatml --format text -t tokenizer.model -o out.tok in.jsonl
rc=$?
for f in out.tok*; do [ -e "$f" ] && echo "left behind: $f"; done
exit $rc
