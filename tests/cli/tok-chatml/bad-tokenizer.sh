# A tokenizer.json whose model is not BPE (a Unigram model, as T5 and XLNet ship).
printf '%s\n' '{"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,' \
  '"post_processor":null,"decoder":null,"model":{"type":"Unigram","unk_id":0,' \
  '"vocab":[["<unk>",0.0],["a",-1.0]]}}' > tokenizer.json
echo '{"text":"a"}' > in.jsonl
$EXEC_PREFIX tok-chatml --format text -t tokenizer.json -o out.tok in.jsonl
rc=$?
for f in out.tok*; do [ -e "$f" ] && echo "left behind: $f"; done
exit $rc
