# Blocks with no trained target (pad mode, a sample whose only token is masked out): the step
# has no loss and its log line has no "loss" field; every line stays valid JSON (no nan).
# v512.tok is a.tok's samples under the tiny model's vocabulary (test_pack_job --write-fixtures).
pack -q --mode pad --seq-len 8 --long split --no-shuffle -o s.pack "$QT_TEST_SRCDIR/data/pack/v512.tok" || exit 1
$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" --train s.pack -o out --max-steps 20 --quiet || exit 1
grep -c nan out/log.jsonl || true
grep -c '"loss"' out/log.jsonl
grep -vc '"loss"' out/log.jsonl
