# Which layers keep their activations changes memory and time, never a value: recomputing
# every layer, a budget of 1 byte (none kept), 64K (the tiny model's two layers' attention
# outputs, the recompute skipping attention and the o and down products), 160K (those and one
# whole layer), keeping all and the default give the same log (but timings) and the same
# adapter, byte for byte.
P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
M="$QT_TEST_SRCDIR/data/llama/tiny"
run() { d=$1; shift; $EXEC_PREFIX lora-train -m "$M" --train "$P" -o "$d" --max-steps 3 \
	--dropout 0.1 --device cpu "$@" 2> "$d.err" || { cat "$d.err"; exit 1; }
	sed 's/"tokens_per_s[^,}]*//; s/"input_tokens_per_s[^,}]*//' "$d/log.jsonl" > "$d.log"; }
run ck --checkpointing
run none --activation-memory 1
run attn --activation-memory 64K
run one --activation-memory 160K
run all --no-checkpointing
run auto
run big --activation-memory 1G --checkpointing --activation-memory 64M
for d in none attn one all auto big; do
	cmp ck.log $d.log && cmp ck/adapter/adapter_model.safetensors $d/adapter/adapter_model.safetensors &&
		echo "$d: same" || echo "$d: differs"
done
for d in ck none attn one all auto big; do
	echo "$d: $(sed -n "s/.*(\([0-9]* of [0-9]*\) layers' activations kept\(.*\)).*/\1\2/p" $d.err)"
done
