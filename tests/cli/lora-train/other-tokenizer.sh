# A .pack tokenized with another tokenizer than the model's tokenizer.json (the fingerprints
# differ): exit 65 naming both, no output directory. Needs the default model; skips (passes
# with a note on stderr) when it is not available.
if [ -z "${QT_MODEL_DIR:-}" ] || [ ! -f "$QT_MODEL_DIR/config.json" ]; then
	printf 'exit 65\na.pack\nerr.txt\n'
	echo "SKIP: default model not available (make model): a.pack: tokenizer check" >&2
	exit 0
fi
pack -q --seq-len 64 -o a.pack "$QT_TEST_SRCDIR/data/pack/a.tok" || exit 1
$EXEC_PREFIX lora-train -m "$QT_MODEL_DIR" --train a.pack -o out --max-steps 1 2>err.txt
echo "exit $?"
sed "s|$QT_MODEL_DIR|MODEL|" err.txt >&2
ls
