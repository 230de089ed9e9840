# LLaMA-Factory files name the label "label".
printf "{\"predict\": \"好的\", \"label\": \"好的。\"}\n" > in.jsonl
$EXEC_PREFIX rouge-zh --label-key label in.jsonl
