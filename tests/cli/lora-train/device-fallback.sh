# --device cuda and auto where no CUDA device answers (no GPU or driver here, or a build without
# CUDA as make test-sanitize's): the CPU and the same results as --device cpu (adapter,
# checkpoint, log losses); asked for, cuda warns in one line, auto (the default) says nothing;
# a checkpoint written by a --device cpu run resumes under --device cuda to the same adapter.
# Where a GPU answers this case passes with a note: tests/bench/cuda-e2e.sh compares there.
P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
M="$QT_TEST_SRCDIR/data/llama/tiny"
run() { # out_dir device [options]
	o=$1 d=$2
	shift 2
	$EXEC_PREFIX lora-train -m "$M" --train "$P" -o "$o" --lr 5e-3 --schedule constant \
		--max-steps 4 --save-every 2 --device "$d" "$@" 2> "$o.err" || { cat "$o.err"; exit 1; }
}
run cpu cpu
run cuda cuda
if ! grep -q 'no CUDA device' cuda.err; then
	echo "SKIP: a CUDA device answered; see tests/bench/cuda-e2e.sh" >&2
	cat "$CASE_DIR/device-fallback.sh.stdout.exact"
	exit 0
fi
run auto auto
run resumed cuda --resume cpu/checkpoint-2
grep -c 'no CUDA device' cpu.err auto.err
for d in cuda auto resumed; do
	grep -c '^lora-train: warning: no CUDA device (.*); using the CPU$' $d.err
	cmp cpu/adapter/adapter_model.safetensors $d/adapter/adapter_model.safetensors || exit 1
done
for d in cuda auto; do
	for f in adapter_model.safetensors optimizer.safetensors; do
		cmp cpu/checkpoint-2/$f $d/checkpoint-2/$f || exit 1
	done
	sed 's/"tokens_per_s.*//' cpu/log.jsonl > a
	sed 's/"tokens_per_s.*//' $d/log.jsonl > b
	cmp a b || exit 1
done
cut -c1-40 cpu/log.jsonl
