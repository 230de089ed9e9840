# A Replace normalizer whose regex matches the empty string (not implemented).
printf '%s' '{"version":"1.0","added_tokens":[],"normalizer":{"type":"Sequence","normalizers":[{"type":"Replace","pattern":{"Regex":" *"},"content":" "}]},"pre_tokenizer":null,' \
  '"post_processor":null,"decoder":null,"model":{"type":"BPE","byte_fallback":true,' \
  '"vocab":{"<unk>":0,"<s>":1,"a":2,"\u2581":3},"merges":[]}}' > tokenizer.json
echo '{"text":"a"}' > in.jsonl
$EXEC_PREFIX tok-chatml --format text -t tokenizer.json -o out.tok in.jsonl
rc=$?
for f in out.tok*; do [ -e "$f" ] && echo "left behind: $f"; done
exit $rc
