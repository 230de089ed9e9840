# A prefix-tuning adapter changes no weight: lora-merge refuses it (exit 65, nothing written);
# --info describes it, with where the sequence's positions start.
F="$QT_TEST_SRCDIR/data"
$EXEC_PREFIX lora-merge --info "$F/prefix/llama-bias-prefix" | sed -n '2,6p;8p'
$EXEC_PREFIX lora-merge --info "$F/prefix/gen-tiny-prefix-pos0" | grep '^positions'
$EXEC_PREFIX lora-merge -q -m "$F/family/llama-bias" -a "$F/prefix/llama-bias-prefix" -o out
rc=$?
ls
exit $rc
