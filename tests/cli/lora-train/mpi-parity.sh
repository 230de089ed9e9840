# Data parallelism is exact: mpirun -np 2 with --grad-accum 1 ends with the same adapter bytes
# and the same log (loss, lr, grad_norm, token counts, eval loss over validation blocks split
# across the ranks) as one process with --grad-accum 2, and -np 3 as --grad-accum 3
# (NEFTune, LoRA dropout, shuffled epochs, cosine schedule with warmup). Rank 0 alone writes.
. "$CASE_DIR/mpi.env"
A="--lr 1e-3 --schedule cosine --warmup-steps 3 --neftune-alpha 5 --dropout 0.1 --shuffle --max-steps 12 --val $P --eval-every 4 --quiet"
for np in 2 3; do
	$EXEC_PREFIX lora-train -m "$M" --train "$P" -o one$np --grad-accum $np $A || exit 1
	mpi $np -m "$M" --train "$P" -o mpi$np --grad-accum 1 $A || exit 1
	cmp one$np/adapter/adapter_model.safetensors mpi$np/adapter/adapter_model.safetensors &&
		cmp one$np/adapter/adapter_config.json mpi$np/adapter/adapter_config.json &&
		echo "np $np: adapter identical"
	# tokens_per_s and input_tokens_per_s are timings
	sed 's/"tokens_per_s":[0-9.]*,//; s/,"input_tokens_per_s":[0-9.]*//' one$np/log.jsonl >a
	sed 's/"tokens_per_s":[0-9.]*,//; s/,"input_tokens_per_s":[0-9.]*//' mpi$np/log.jsonl >b
	cmp a b && echo "np $np: log identical, $(grep -c eval_loss b) evaluations"
	ls mpi$np
done
