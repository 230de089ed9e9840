# What people type without reading the man page: --temperature 0 is greedy (the ids of the
# default greedy decoding, whatever the other sampling options); a record without the prompt
# names gen's own options (--prompt-key, --label-key); a .gguf file given as -m says to run
# import-gguf; under the default --device auto no CUDA notice.
M=$QT_TEST_SRCDIR/data/gen/tiny
printf '%s\n' '{"content":"hello"}' '{"content":"What is the capital of France?"}' > p.jsonl
g() { $EXEC_PREFIX gen -q -m "$M" --prompt-key content --max-new-tokens 6 --ids "$@" p.jsonl; }
g > greedy.out && g --temperature 0 > t0.out && g --temperature 0 --top-k 5 --seed 7 > t0k.out || exit 1
cmp greedy.out t0.out && cmp greedy.out t0k.out && echo "temperature 0 = greedy"
g --temperature 0.7 --seed 7 > t7.out && ! cmp -s greedy.out t7.out && echo "temperature 0.7 samples"
echo '{"question":"x"}' > q.jsonl
$EXEC_PREFIX gen -m "$M" q.jsonl; echo "exit $?"
cp "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf" m.gguf
$EXEC_PREFIX gen -m m.gguf q.jsonl; echo "exit $?"
$EXEC_PREFIX gen -m "$M" --prompt-key content --max-new-tokens 2 -o /dev/null p.jsonl 2> auto.err
echo "auto: exit $?, $(grep -c CUDA auto.err) CUDA lines"
