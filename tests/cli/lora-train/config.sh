# --config: a JSON file of long option names; the command line wins over it. The run equals
# the same options given as flags (byte-identical adapter); a bad key is a usage error (64);
# a malformed file is bad data (65).
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
cat >train.json <<EOT
{"model": "$M", "train": "$P", "lr": 5e-3, "schedule": "cosine", "warmup-steps": 2,
 "target": ["q_proj", "v_proj", "down_proj"], "rank": 4, "alpha": 8, "rslora": true,
 "max-steps": 50, "quiet": true, "shuffle": false}
EOT
$EXEC_PREFIX lora-train --config train.json -o a --max-steps 6 || exit 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o b --lr 5e-3 --schedule cosine \
	--warmup-steps 2 --target q_proj,v_proj,down_proj --rank 4 --alpha 8 --rslora \
	--max-steps 6 --quiet || exit 1
cmp a/adapter/adapter_model.safetensors b/adapter/adapter_model.safetensors && echo same
grep -c '"step"' a/log.jsonl
echo '{"no-such-option": 1}' >bad.json
$EXEC_PREFIX lora-train --config bad.json -o c 2>/dev/null; echo "exit $?"
echo '{"lr": }' >broken.json
$EXEC_PREFIX lora-train --config broken.json -o c; echo "exit $?"
ls
