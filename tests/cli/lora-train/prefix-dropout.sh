# --prefix-dropout (ChatGLM's P-Tuning v2: dropout on the prefix's keys and values in training
# only; its gradient is tests/jobs/test_lora_train_prefix.c's): with lr 0 the table stays, so
# the evaluation (no dropout) gives the loss of a run without it while the training loss
# differs; a run resumed from its checkpoint ends with the same adapter bytes (mpi-prefix.sh:
# two ranks equal --grad-accum 2 with it).
P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
A="-m $QT_TEST_SRCDIR/data/llama/tiny --train $P --val $P --method prefix --virtual-tokens 4 --quiet"
$EXEC_PREFIX lora-train $A --lr 0 --max-steps 1 -o plain || exit 1
$EXEC_PREFIX lora-train $A --lr 0 --max-steps 1 --prefix-dropout 0.3 -o drop || exit 1
ev() { sed -n 's/.*"eval_loss":\([0-9.]*\).*/\1/p' "$1/log.jsonl"; }
tl() { sed -n 's/.*"loss":\([0-9.]*\).*/\1/p' "$1/log.jsonl"; }
[ "$(ev plain)" = "$(ev drop)" ] && echo "eval without dropout"
[ "$(tl plain)" != "$(tl drop)" ] && echo "training with dropout"
B="$A --lr 1e-2 --prefix-dropout 0.1 --grad-accum 2"
$EXEC_PREFIX lora-train $B --max-steps 6 --save-every 3 -o run || exit 1
grep -o '"prefix_dropout": 0.10*1' run/checkpoint-3/trainer_state.json
cp -R run part && rm -rf part/adapter part/checkpoint-6
$EXEC_PREFIX lora-train $B --resume part/checkpoint-3 --max-steps 6 --save-every 3 || exit 1
cmp run/adapter/adapter_model.safetensors part/adapter/adapter_model.safetensors && echo "resumed: identical"
