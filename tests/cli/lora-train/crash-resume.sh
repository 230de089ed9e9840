# Crash safety (issue 23): a run killed with SIGKILL at named moments (QT_CRASHPOINT, see
# qlora-tools(7)): after an optimizer step, inside a checkpoint write, inside the adapter write,
# before a directory's swap and between the swap and the clean-up, of a checkpoint and of the
# final adapter. After each kill: every checkpoint left resumes to the uninterrupted run's
# adapter, byte for byte (none is accepted and corrupt), and resuming the run itself (or
# starting it again when no checkpoint was written yet) ends with that adapter too.
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
A="--lr 1e-3 --schedule cosine --warmup-steps 2 --grad-accum 2 --dropout 0.1 --shuffle --max-steps 9 --save-every 3 --quiet"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o ref $A || exit 1
same() { cmp -s ref/adapter/adapter_model.safetensors "$1/adapter/adapter_model.safetensors" &&
	cmp -s ref/adapter/adapter_config.json "$1/adapter/adapter_config.json"; }
fail=0
# dir-commit / dir-exchanged: 2 per checkpoint (its adapter, then the checkpoint), then the
# final adapter (7th); adapter-weights: 1 per checkpoint, the 4th is the final adapter;
# dir-exchanged: a checkpoint's adapter replaces its empty temporary (the 3rd: checkpoint-9).
for cp in step:1 step:4 checkpoint-moments:1 checkpoint-moments:2 adapter-weights:2 \
          adapter-weights:4 dir-commit:1 dir-commit:2 dir-commit:4 dir-commit:7 \
          dir-exchanged:1 dir-exchanged:3; do
	rm -rf run
	QT_CRASHPOINT=$cp $EXEC_PREFIX lora-train -m "$M" --train "$P" -o run $A 2>/dev/null
	rc=$?
	[ $rc -eq 137 ] || { echo "$cp: exit $rc, not killed"; fail=1; continue; }
	n=0
	for c in run/checkpoint-*; do
		case $c in *.tmp.*|*.old.*) continue ;; esac  # temporaries: not checkpoints
		[ -d "$c" ] || continue
		rm -rf copy && cp -r run copy
		if $EXEC_PREFIX lora-train -m "$M" --train "$P" --resume "copy/${c#run/}" $A 2>err; then
			same copy || { echo "$cp: ${c#run/} resumed to another adapter"; fail=1; }
		else
			echo "$cp: ${c#run/} refused: $(cat err)"; fail=1
		fi
		n=$((n + 1))
	done
	if [ $n -gt 0 ]; then
		$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume run $A
	else
		$EXEC_PREFIX lora-train -m "$M" --train "$P" -o run $A
	fi || { echo "$cp: the run did not finish after the kill"; fail=1; continue; }
	same run || { echo "$cp: final adapter differs"; fail=1; }
	left=$(find run -name '*.tmp.*' -o -name '*.old.*' | wc -l)
	[ "$left" -eq 0 ] || { echo "$cp: $left temporaries left"; fail=1; }
	echo "$cp: $n checkpoints left, all resume exactly; run finished identical"
done
exit $fail
