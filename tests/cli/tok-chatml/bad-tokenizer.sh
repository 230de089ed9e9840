# A tokenizer.json whose model is neither BPE nor Unigram (WordPiece, as BERT ships).
printf '%s\n' '{"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,' \
  '"post_processor":null,"decoder":null,"model":{"type":"WordPiece",' \
  '"unk_token":"[UNK]","vocab":{"[UNK]":0,"a":1}}}' > tokenizer.json
echo '{"text":"a"}' > in.jsonl
$EXEC_PREFIX tok-chatml --format text -t tokenizer.json -o out.tok in.jsonl
rc=$?
for f in out.tok*; do [ -e "$f" ] && echo "left behind: $f"; done
exit $rc
