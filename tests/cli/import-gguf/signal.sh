# SIGTERM, SIGINT or SIGHUP at several moments of a run: either the complete output or nothing,
# and never a temporary directory left (model.tmp.PID/).
for sig in TERM INT HUP TERM INT HUP; do
	for d in 0 0.005 0.01 0.02 0.04; do
		$EXEC_PREFIX import-gguf -q -o model "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf" &
		sleep $d; kill -$sig $! 2>/dev/null; wait $!
		ls | grep -q '\.tmp\.\|\.old\.' && { echo "left: $(ls)"; exit 1; }
		[ ! -e model ] || [ -f model/tokenizer_config.json ] || { echo "partial: $(ls model)"; exit 1; }
	done
done
echo clean
