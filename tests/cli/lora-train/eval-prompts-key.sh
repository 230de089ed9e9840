# --eval-prompt-key without --eval-label-key: nothing to score against.
$EXEC_PREFIX lora-train -m m --train t.pack -o out --eval-prompts e.jsonl --eval-prompt-key content
