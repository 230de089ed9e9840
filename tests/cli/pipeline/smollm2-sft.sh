# A short version of the demo on the default model (make model): NF4 base, 3 training steps,
# predictions for 2 held-out prompts, metrics and report. Skips (passes with a note on stderr)
# when the default model is not available (QT_MODEL_DIR empty).
set -eu
if [ -z "${QT_MODEL_DIR:-}" ] || [ ! -f "$QT_MODEL_DIR/config.json" ]; then
	echo "SKIP: default model not available (make model)" >&2
	echo ok
	exit 0
fi
top=$(dirname "$QT_TEST_SRCDIR")
"$QT_BIN/adgen-data" 11 40 > train.jsonl
"$QT_BIN/adgen-data" 12 2 > eval.jsonl
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -f "$top/pipelines/sft.mk" QT_BIN="$QT_BIN" MODEL="$QT_MODEL_DIR" OUT=out \
  DATA_TRAIN=train.jsonl DATA_EVAL=eval.jsonl SEQ_LEN=256 VAL_COUNT=2 RANK=4 ALPHA=8 \
  STEPS=3 EVAL_EVERY=3 MAX_NEW=8 GEN_BATCH=2 TRAIN_FLAGS=--quiet GEN_FLAGS=--quiet sft \
  > report.out 2> make.err || { cat make.err >&2; exit 1; }
fail() { echo "smollm2-sft: $*" >&2; exit 1; }
[ "$(grep -c '"loss"' out/run/log.jsonl)" -eq 3 ] || fail "log.jsonl"
grep -q '"eval_loss"' out/run/log.jsonl || fail "no eval loss"
for m in base tuned; do
	[ "$(wc -l < out/pred-$m.jsonl)" -eq 2 ] || fail "pred-$m.jsonl"
	grep -q '"rouge-l"' out/metrics-$m.json || fail "metrics-$m.json"
done
grep -q '^| tuned |' out/report.md || fail "report"
echo ok
