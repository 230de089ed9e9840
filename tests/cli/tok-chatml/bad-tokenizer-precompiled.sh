# A SentencePiece charsmap normalizer whose map is one byte (too short for its header).
printf '%s' '{"version":"1.0","added_tokens":[],"normalizer":{"type":"Precompiled","precompiled_charsmap":"AA=="},"pre_tokenizer":null,' \
  '"post_processor":null,"decoder":null,"model":{"type":"BPE","byte_fallback":true,' \
  '"vocab":{"<unk>":0,"<s>":1,"a":2,"\u2581":3},"merges":[]}}' > tokenizer.json
echo '{"text":"a"}' > in.jsonl
$EXEC_PREFIX tok-chatml --format text -t tokenizer.json -o out.tok in.jsonl
rc=$?
for f in out.tok*; do [ -e "$f" ] && echo "left behind: $f"; done
exit $rc
