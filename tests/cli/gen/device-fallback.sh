# --device cuda and auto where no CUDA device answers (no GPU or driver here, or a build without
# CUDA as make test-sanitize's): the CPU and the same predictions as --device cpu. Asked for,
# cuda warns in one line; auto (the default) says nothing, and notes the choice under -v
# (greedy at batch 2, and sampled).
# Where a GPU answers this case passes with a note: tests/bench/cuda-e2e.sh compares there.
printf "%s\n" "{\"content\":\"hello\"}" "{\"content\":\"What is the capital of France?\"}" \
	"{\"content\":\"类型#上衣*颜色#白色\"}" > p.jsonl
run() { # device [options]
	d=$1
	shift
	$EXEC_PREFIX gen -m "$QT_TEST_SRCDIR/data/gen/tiny" --prompt-key content --max-new-tokens 6 \
		--batch 2 --ids --device "$d" "$@" p.jsonl > "$d.out" 2> "$d.err" || { cat "$d.err"; exit 1; }
}
for s in "" "--preset chatglm --seed 3"; do
	run cpu $s
	run cuda $s
	if ! grep -q 'no CUDA device' cuda.err; then
		echo "SKIP: a CUDA device answered; see tests/bench/cuda-e2e.sh" >&2
		cat "$CASE_DIR/device-fallback.sh.stdout.exact"
		exit 0
	fi
	run auto $s
	grep -c 'no CUDA device' cpu.err auto.err
	grep -c '^gen: warning: no CUDA device (.*); using the CPU$' cuda.err
	run auto -v $s
	grep -c '^gen: no CUDA device (.*); using the CPU$' auto.err
	for d in cuda auto; do
		cmp cpu.out $d.out || exit 1
	done
	cat cpu.out
done
