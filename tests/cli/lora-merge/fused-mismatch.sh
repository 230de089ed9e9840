# An adapter of separate q/k/v and gate/up projections on a base whose projections are fused
# (Phi-3), and the other way round: exit 65 naming the tensor, nothing written.
F="$QT_TEST_SRCDIR/data/family"
$EXEC_PREFIX lora-merge -q -m "$F/phi3" -a "$F/qwen2-lora-init" -o out
echo "rc=$?"
$EXEC_PREFIX lora-merge -q -m "$F/qwen2" -a "$F/phi3-lora-init" -o out
rc=$?
ls
exit $rc
