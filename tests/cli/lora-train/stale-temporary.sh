# A run killed with kill -9 left checkpoint-3.tmp.PID/ and adapter.tmp.PID/ (PID no longer
# running): the next run into the directory removes them.
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
dead=$(sh -c 'echo $$')
mkdir -p run/checkpoint-3.tmp.$dead run/adapter.tmp.$dead
echo x > run/adapter.tmp.$dead/adapter_config.json
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o run --max-steps 1 --quiet || exit 1
ls run
