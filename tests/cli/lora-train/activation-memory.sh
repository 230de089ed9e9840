# Which layers keep their activations changes memory and time, never a value: recomputing
# every layer, a budget of 1 byte (none kept), 128K (one of the tiny model's two), keeping all and
# the default give the same log (but timings) and the same adapter, byte for byte.
P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
M="$QT_TEST_SRCDIR/data/llama/tiny"
run() { d=$1; shift; $EXEC_PREFIX lora-train -m "$M" --train "$P" -o "$d" --max-steps 3 \
	--dropout 0.1 --device cpu "$@" 2> "$d.err" || { cat "$d.err"; exit 1; }
	sed 's/"tokens_per_s[^,}]*//; s/"input_tokens_per_s[^,}]*//' "$d/log.jsonl" > "$d.log"; }
run ck --checkpointing
run none --activation-memory 1
run one --activation-memory 128K
run all --no-checkpointing
run auto
run big --activation-memory 1G --checkpointing --activation-memory 64M
for d in none one all auto big; do
	cmp ck.log $d.log && cmp ck/adapter/adapter_model.safetensors $d/adapter/adapter_model.safetensors &&
		echo "$d: same" || echo "$d: differs"
done
for d in ck none one all auto big; do
	echo "$d: $(sed -n 's/.*(\([0-9]* of [0-9]*\) layers.*/\1/p' $d.err)"
done
