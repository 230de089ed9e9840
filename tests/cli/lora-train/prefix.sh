# --method prefix (PEFT's PREFIX_TUNING; its numbers against PEFT are
# tests/kernels/model/test_prefix.c's): the adapter PEFT's way (adapter_config.json with
# peft_type PREFIX_TUNING, prompt_embeddings [4, 2 * 2 layers * 32]), the eval loss falls,
# resuming from checkpoint-6 gives the same adapter bytes as the run without a stop, --init-adapter
# continues from it, and the optimizer moments of the table are in the checkpoint.
P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
A="-m $QT_TEST_SRCDIR/data/llama/tiny --train $P --method prefix --virtual-tokens 4 --lr 1e-2 --quiet"
$EXEC_PREFIX lora-train $A --val "$P" --eval-every 6 --max-steps 12 --save-every 6 -o run || exit 1
grep -o '"peft_type": "PREFIX_TUNING"\|"num_virtual_tokens": 4\|"token_dim": 32' run/adapter/adapter_config.json
tr -c 'a-z_.\[\]0-9,' '\n' < run/adapter/adapter_model.safetensors | grep -m1 -o 'prompt_embeddings'
tr -c 'a-z_.' '\n' < run/checkpoint-6/optimizer.safetensors | grep -c '^prompt_embeddings.exp_avg'
sed -n 's/.*"eval_loss":\([0-9.]*\).*/\1/p' run/log.jsonl | awk 'NR > 1 && $1 >= last { bad = 1 } { last = $1 } END { print bad ? "eval loss did not fall" : "eval loss falls" }'
cp -R run part && rm -rf part/adapter part/checkpoint-12
$EXEC_PREFIX lora-train $A --resume part/checkpoint-6 --max-steps 12 --save-every 6 || exit 1
cmp run/adapter/adapter_model.safetensors part/adapter/adapter_model.safetensors && echo "resumed: identical"
$EXEC_PREFIX lora-train $A --init-adapter run/adapter --max-steps 2 -o more || exit 1
cmp -s run/adapter/adapter_model.safetensors more/adapter/adapter_model.safetensors || echo "continued"
