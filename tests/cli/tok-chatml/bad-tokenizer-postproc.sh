# A TemplateProcessing post-processor naming a special token it does not define.
printf '%s' '{"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,' \
  '"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{}},"decoder":null,"model":{"type":"BPE","byte_fallback":true,' \
  '"vocab":{"<unk>":0,"<s>":1,"a":2,"\u2581":3},"merges":[]}}' > tokenizer.json
echo '{"text":"a"}' > in.jsonl
$EXEC_PREFIX tok-chatml --format text -t tokenizer.json -o out.tok in.jsonl
rc=$?
for f in out.tok*; do [ -e "$f" ] && echo "left behind: $f"; done
exit $rc
