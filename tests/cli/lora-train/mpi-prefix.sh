# Data parallelism with --method prefix: mpirun -np 2 with --grad-accum 1 ends with the same
# prompt_embeddings bytes as one process with --grad-accum 2 (the table is all-reduced with
# the gradients), and so with --prefix-dropout (a block's mask follows its place in the global
# step, not the rank) and with --prefix-projection (the MLP's gradients are all-reduced).
. "$CASE_DIR/mpi.env"
A="--method prefix --virtual-tokens 4 --lr 1e-2 --neftune-alpha 5 --shuffle --max-steps 8 --quiet"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o one --grad-accum 2 $A || exit 1
mpi 2 -m "$M" --train "$P" -o two --grad-accum 1 $A || exit 1
cmp one/adapter/adapter_model.safetensors two/adapter/adapter_model.safetensors && echo identical
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o one-d --grad-accum 2 --prefix-dropout 0.2 $A || exit 1
mpi 2 -m "$M" --train "$P" -o two-d --grad-accum 1 --prefix-dropout 0.2 $A || exit 1
cmp one-d/adapter/adapter_model.safetensors two-d/adapter/adapter_model.safetensors && echo identical
cmp -s one/adapter/adapter_model.safetensors one-d/adapter/adapter_model.safetensors || echo "dropout changes the run"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o one-p --grad-accum 2 --prefix-projection $A || exit 1
mpi 2 -m "$M" --train "$P" -o two-p --grad-accum 1 --prefix-projection $A || exit 1
cmp one-p/adapter/adapter_model.safetensors two-p/adapter/adapter_model.safetensors &&
	cmp one-p/adapter/prefix_encoder.safetensors two-p/adapter/prefix_encoder.safetensors && echo identical
