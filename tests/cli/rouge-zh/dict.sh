# --dict replaces the dictionary (jieba.Tokenizer(dictionary=...)); the HMM tables stay.
# Python with this dict: 今天/天气/很好/啊/我们/走/吧 vs 今天/天气/很好/。 → 54.5455 44.4444 54.5455.
printf '今天 10 t\n天气 10 n\n很好 5 a\n今天天 1\n' > d.txt
printf '{"predict": "今天天气很好啊我们走吧", "labels": "今天天气很好。"}\n' > in.jsonl
$EXEC_PREFIX rouge-zh --dict d.txt --per-sample - -o /dev/null in.jsonl
