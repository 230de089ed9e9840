# Equivalent spellings of the ChatML template are recognised: whitespace control, double
# quotes, attribute access, comments, the generation prompt inside the loop, "\n" escapes.
D=$QT_TEST_SRCDIR/data/chatml
T=$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json
cat > a.json <<'CFG'
{"chat_template": "{#- ChatML -#}\n{%- for message in messages -%}\n  {{- \"<|im_start|>\" + message.role + \"\\n\" + message.content + \"<|im_end|>\" + \"\\n\" -}}\n  {%- if loop.last and add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}\n{%- endfor %}"}
CFG
$EXEC_PREFIX tok-chatml -q --chat-config a.json -t "$T" -o out.tok "$D/auto.jsonl" || exit 1
$EXEC_PREFIX tok-cat out.tok | cmp - "$D/nosys.golden"
