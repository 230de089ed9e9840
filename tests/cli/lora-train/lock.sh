# Two runs into one -o: the second is refused (73) naming the first's pid, and writes nothing;
# after the first is killed with SIGKILL its lock is stale and a new run goes ahead.
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o run --max-steps 1000000 --quiet &
pid=$!
i=0
while [ ! -s run/log.jsonl ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o run --max-steps 1 --quiet 2>err
echo "exit $?"
sed "s/pid $pid /pid FIRST /" err
kill -9 $pid; wait $pid 2>/dev/null
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o run --max-steps 1 --quiet || exit 1
ls run
