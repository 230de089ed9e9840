# Resume under mpirun: a 2-rank run with checkpoints every 5 steps, cut back to checkpoint-5
# (as after a crash), resumed by 2 ranks and by one process with --grad-accum 2 (the same
# global step, grad_accum 2 in the checkpoint): both end with the adapter of the uninterrupted
# run. 3 ranks (a global step of 3 blocks) are refused with 65 and a message naming the split,
# and leave the run untouched.
. "$CASE_DIR/mpi.env"
A="--lr 1e-3 --schedule cosine --warmup-steps 3 --neftune-alpha 5 --dropout 0.1 --shuffle --max-steps 12 --quiet"
mpi 2 -m "$M" --train "$P" -o straight $A || exit 1
mpi 2 -m "$M" --train "$P" -o cut --save-every 5 $A || exit 1
ls cut
rm -rf cut/adapter cut/checkpoint-10 cut/checkpoint-12
cp -r cut one
cp -r cut three
mpi 2 -m "$M" --train "$P" --resume cut $A || exit 1
cmp straight/adapter/adapter_model.safetensors cut/adapter/adapter_model.safetensors &&
	echo "2 ranks: adapter identical"
$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume one --grad-accum 2 $A || exit 1
cmp straight/adapter/adapter_model.safetensors one/adapter/adapter_model.safetensors &&
	echo "1 process, --grad-accum 2: adapter identical"
cp three/log.jsonl log.before
mpi 3 -m "$M" --train "$P" --resume three $A 2>err
echo "3 ranks: exit $?"
grep -c 'lora-train: rank [0-2]: .*cannot resume: option grad_accum differs (checkpoint 2, now 3); under mpirun grad_accum is --grad-accum x ranks (now 1 x 3)$' err
cmp log.before three/log.jsonl && ls three
