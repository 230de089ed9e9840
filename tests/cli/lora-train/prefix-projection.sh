# --prefix-projection (PEFT's prefix_projection: the table made by Embedding -> Linear -> tanh
# -> Linear, trained through the MLP; its gradients against PEFT are
# tests/jobs/test_lora_train_prefix.c's): 8 optimizer steps from tests/data/prefix/train-init-proj
# against PEFT 0.21.2 + the HF Trainer's step semantics (tests/ref/prefix_proj_golden.py: weight
# decay 0.01 on all but the two biases, the settings of prefix-curve.sh): loss and pre-clip grad
# norm within 1e-4 relative at every step. From the seeded init: the adapter is PEFT's
# (prefix_projection true, encoder_hidden_size, prompt_embeddings the MLP's output) beside the
# MLP in prefix_encoder.safetensors, the checkpoint keeps the MLP's moments, a resume ends with
# the same bytes, and --init-adapter without the option trains the table itself.
D="$QT_TEST_SRCDIR/data/prefix"
A="-m $QT_TEST_SRCDIR/data/llama/tiny --train $QT_TEST_SRCDIR/data/lora_train/train.pack --method prefix --virtual-tokens 4 --quiet"
$EXEC_PREFIX lora-train $A --prefix-projection --init-adapter "$D/train-init-proj" -o out \
	--lr 1e-2 --schedule linear --warmup-steps 3 --weight-decay 0.01 --grad-accum 2 \
	--max-grad-norm 1 --max-steps 8 || exit 1
sed 's/[{}"]//g; s/[a-z_]*://g; s/,/ /g' out/log.jsonl >ours.txt
paste -d' ' "$D/train-curve-proj.txt" ours.txt | awk '
function rel(a, b) { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; return m > 0 ? d / m : d }
{ n++; if ($1 != $5) bad = 1
  e = rel($6, $2); if (e > ml) ml = e
  e = rel($8, $3); if (e > mg) mg = e
  e = rel($7, $4); if (e > 1e-5 && $4 > 0) bad = 1 }
END { printf "%d steps: loss and grad_norm within 1e-4: %s\n", n, (n == 8 && !bad && ml <= 1e-4 && mg <= 1e-4) ? "yes" : "no"
      exit (n != 8 || bad || ml > 1e-4 || mg > 1e-4) }' || exit 1
B="$A --val $QT_TEST_SRCDIR/data/lora_train/train.pack --prefix-projection --prefix-hidden 8 --lr 1e-2"
$EXEC_PREFIX lora-train $B --eval-every 6 --max-steps 12 --save-every 6 -o run || exit 1
grep -o '"prefix_projection": true\|"encoder_hidden_size": 8' run/adapter/adapter_config.json
tr -c 'a-z_.0-9' '\n' < run/adapter/adapter_model.safetensors | grep -x 'prompt_embeddings'
tr -c 'a-z_.0-9' '\n' < run/adapter/prefix_encoder.safetensors | grep -c '^transform\.\|^embedding\.'
tr -c 'a-z_.0-9' '\n' < run/checkpoint-6/optimizer.safetensors | grep -c '\.exp_avg'
sed -n 's/.*"eval_loss":\([0-9.]*\).*/\1/p' run/log.jsonl | awk 'NR > 1 && $1 >= last { bad = 1 } { last = $1 } END { print bad ? "eval loss did not fall" : "eval loss falls" }'
cp -R run part && rm -rf part/adapter part/checkpoint-12
$EXEC_PREFIX lora-train $B --resume part/checkpoint-6 --max-steps 12 --save-every 6 || exit 1
cmp run/adapter/adapter_model.safetensors part/adapter/adapter_model.safetensors &&
	cmp run/adapter/prefix_encoder.safetensors part/adapter/prefix_encoder.safetensors && echo "resumed: identical"
$EXEC_PREFIX lora-train $A --init-adapter run/adapter --max-steps 1 -o table || exit 1
grep -o '"prefix_projection": false' table/adapter/adapter_config.json
ls table/adapter
