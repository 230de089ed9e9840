# 20 steps on the tiny model from PEFT's seeded init (r 8, all-linear) with evaluation every 5
# steps on the training blocks: OUT/adapter (config + weights), OUT/checkpoint-10, a log line per
# step with every field, and an eval loss that decreases at every evaluation, each evaluation
# with TRL's mean token accuracy in [0, 1] (its value against TRL's definition:
# tests/kernels/model/test_prefix_packed.c).
P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" --train "$P" --val "$P" -o out \
	--lr 5e-3 --schedule constant --max-steps 20 --eval-every 5 --save-every 10 --quiet || exit 1
ls out out/adapter out/checkpoint-10
grep -c '^{"step":[0-9]*,"loss":[0-9.]*,"lr":[0-9.e-]*,"grad_norm":[0-9.]*,"tokens":[0-9]*,"tokens_per_s":[0-9.]*,"input_tokens":[0-9]*,"input_tokens_per_s":[0-9.]*}$' out/log.jsonl
grep -q '"r": 8' out/adapter/adapter_config.json || exit 1
grep -c '^{"step":[0-9]*,"eval_loss":[0-9.]*,"eval_mean_token_accuracy":\(0\.[0-9]*\|1\.0*\)}$' out/log.jsonl
grep eval_loss out/log.jsonl | sed 's/.*"eval_loss"://; s/[,}].*//' |
	awk 'NR > 1 && $1 >= prev { bad = 1 } { prev = $1; n++ } END { print n " evaluations"; exit bad || n != 4 }'
