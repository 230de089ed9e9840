# SIGTERM to one rank of two: both finish the same step, rank 0 writes checkpoint-N (the last
# log line is step N), both exit 0 and no adapter is written. Resumed by 2 ranks to N + 10
# steps, the adapter equals N + 10 steps straight.
. "$CASE_DIR/mpi.env"
A="--lr 1e-3 --schedule constant-with-warmup --warmup-steps 5 --dropout 0.1 --neftune-alpha 5 --quiet"
# each rank leaves its process id in pid.<rank>
mpirun -np 2 sh -c 'echo $$ >pid.$OMPI_COMM_WORLD_RANK; exec "$@"' sh $EXEC_PREFIX lora-train \
	-m "$M" --train "$P" -o run --max-steps 1000000 $A 2>err &
job=$!
i=0
while [ "$(cat run/log.jsonl 2>/dev/null | wc -l)" -lt 10 ] && [ $i -lt 1200 ] && kill -0 $job 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
done
kill -TERM "$(cat pid.1)"
wait $job
echo "exit $?"
ls run | sed 's/checkpoint-[0-9]*/checkpoint-N/'
n=$(ls run | sed -n 's/^checkpoint-//p')
test "$(tail -n 1 run/log.jsonl | sed 's/^{"step":\([0-9]*\),.*/\1/')" = "$n" || exit 1
grep -c "^lora-train: rank 0: interrupted: checkpoint-$n written; continue with --resume\$" err
mpi 2 -m "$M" --train "$P" --resume run --max-steps $((n + 10)) $A || exit 1
mpi 2 -m "$M" --train "$P" -o straight --max-steps $((n + 10)) $A || exit 1
cmp run/adapter/adapter_model.safetensors straight/adapter/adapter_model.safetensors &&
	echo adapter identical
