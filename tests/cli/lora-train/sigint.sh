# SIGINT during training: the step finishes, checkpoint-N is written, exit 0, no adapter/.
# Resumed to N + 15 steps, it ends with the same adapter bytes as N + 15 steps straight
# (constant schedule after warmup, so the planned total does not change the learning rates).
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
A="--lr 1e-3 --schedule constant-with-warmup --warmup-steps 5 --grad-accum 2 --dropout 0.1 --neftune-alpha 5 --quiet"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o run --max-steps 1000000 $A &
pid=$!
i=0
while [ "$(cat run/log.jsonl 2>/dev/null | wc -l)" -lt 20 ] && [ $i -lt 1200 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -INT $pid
wait $pid
echo "exit $?"
ls run | sed 's/checkpoint-[0-9]*/checkpoint-N/'
n=$(ls run | sed -n 's/^checkpoint-//p')
test -f run/checkpoint-$n/trainer_state.json || exit 1
test "$(tail -n 1 run/log.jsonl | sed 's/^{"step":\([0-9]*\),.*/\1/')" = "$n" || exit 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume run --max-steps $((n + 15)) $A || exit 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o straight --max-steps $((n + 15)) $A || exit 1
cmp run/adapter/adapter_model.safetensors straight/adapter/adapter_model.safetensors &&
	echo adapter identical
