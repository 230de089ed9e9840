# A SentencePiece model whose normalizer has a malformed precompiled map (one byte, shorter than
# its 4-byte trie-size header): refused, nothing written.
printf '\012\003\012\001a\032\015\012\010nmt_nfkc\022\001\000' > tokenizer.model
echo '{"text":"a"}' > in.jsonl
$EXEC_PREFIX tok-chatml --format text -t tokenizer.model -o out.tok in.jsonl
rc=$?
for f in out.tok*; do [ -e "$f" ] && echo "left behind: $f"; done
exit $rc
