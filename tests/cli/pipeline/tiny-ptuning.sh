# The ChatGLM recipe's shape through pipelines/sft.mk with METHOD=prefix (P-Tuning v2: a
# learned key/value prefix, LR 2e-2) on the tiny model of tiny-sft.sh: a PREFIX_TUNING adapter,
# both prediction sets, metrics, the report naming the method, and no merge or GGUF (a prefix
# changes no weight).
set -eu
src=$QT_TEST_SRCDIR
top=$(dirname "$src")
mkdir model
cp "$src/data/sft-tiny/config.json" "$src/data/sft-tiny/generation_config.json" \
   "$src/data/sft-tiny/model.safetensors" "$src/data/tokenizer/smollm2/tokenizer.json" \
   "$src/data/tokenizer/smollm2/tokenizer_config.json" model/
"$QT_BIN/adgen-data" 7 60 > train.jsonl
"$QT_BIN/adgen-data" 8 4 > eval.jsonl
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -f "$top/pipelines/sft.mk" QT_BIN="$QT_BIN" MODEL=model OUT=out \
  DATA_TRAIN=train.jsonl DATA_EVAL=eval.jsonl SEQ_LEN=256 VAL_COUNT=8 METHOD=prefix VTOKENS=8 \
  LR=2e-2 STEPS=6 EVAL_EVERY=3 MAX_NEW=8 GEN_BATCH=4 TRAIN_FLAGS=--quiet GEN_FLAGS=--quiet sft \
  > report.out 2> make.err || { cat make.err >&2; exit 1; }
grep -o '"peft_type": "PREFIX_TUNING"' out/run/adapter/adapter_config.json
grep -o '^- adapter: PREFIX_TUNING (8 prefix slots)$' out/report.md
[ -s out/metrics-tuned.json ] && [ -s out/pred-tuned.jsonl ] && echo predictions
ls out | grep -c -e merged -e '\.gguf$' || true
