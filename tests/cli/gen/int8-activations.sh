# --int8-activations on SmolLM2-135M quantized to NF4: the same tokens at 1 and 3 threads (the
# int8 dots are exact, the f32 combination fixed; reference and AVX2 rows agree bit for bit).
# It changes the math: here greedy decoding leaves the exact path's tokens at the second one
# ("Amber, Gold, and Green." against "A: Red, Blue, Green, ...").
if [ -z "${QT_MODEL_DIR:-}" ] || [ ! -f "$QT_MODEL_DIR/config.json" ]; then
	echo "SKIP: default model not available (make model)" >&2
	exit 77
fi
$EXEC_PREFIX quantize-nf4 -q -o q "$QT_MODEL_DIR" || exit 1
echo '{"messages":[{"role":"user","content":"Name three colours."}]}' > p.jsonl
$EXEC_PREFIX gen -q -m q --max-new-tokens 12 --ids --threads 1 --int8-activations p.jsonl > a1 || exit 1
$EXEC_PREFIX gen -q -m q --max-new-tokens 12 --ids --threads 3 --int8-activations p.jsonl > a3 || exit 1
$EXEC_PREFIX gen -q -m q --max-new-tokens 12 --ids --threads 2 p.jsonl > exact || exit 1
cmp a1 a3 || exit 1
cat a1
cmp -s a1 exact || echo "not the exact path's tokens"
