# Data parallelism with --method prefix: mpirun -np 2 with --grad-accum 1 ends with the same
# prompt_embeddings bytes as one process with --grad-accum 2 (the table is all-reduced with
# the gradients).
. "$CASE_DIR/mpi.env"
A="--method prefix --virtual-tokens 4 --lr 1e-2 --neftune-alpha 5 --shuffle --max-steps 8 --quiet"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o one --grad-accum 2 $A || exit 1
mpi 2 -m "$M" --train "$P" -o two --grad-accum 1 $A || exit 1
cmp one/adapter/adapter_model.safetensors two/adapter/adapter_model.safetensors && echo identical
