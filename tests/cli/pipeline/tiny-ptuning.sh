# The ChatGLM recipe's shape through pipelines/sft.mk with METHOD=prefix (P-Tuning v2: a
# learned key/value prefix, ChatGLM2's conventions by default: positions from 0, dropout 0.1
# on the prefix; made by the projection MLP, the recipe's default) on the tiny model of
# tiny-sft.sh, the QLoRA base and evaluation by generation during training: a PREFIX_TUNING
# adapter that records the options, both prediction sets, metrics, the report naming the
# method with the tuned-vs-untuned table, token accuracy and ROUGE during training, the loss
# plot with those scores, and no merge or GGUF (a prefix changes no weight).
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
  PREFIX_HIDDEN=16 STEPS=6 EVAL_EVERY=3 EVAL_GEN=8 MAX_NEW=8 GEN_BATCH=4 \
  TRAIN_FLAGS=--quiet GEN_FLAGS=--quiet sft \
  > report.out 2> make.err || { cat make.err >&2; exit 1; }
grep -o '"peft_type": "PREFIX_TUNING"\|"prefix_projection": true\|"qlora_tools_prefix_positions": 0' \
	out/run/adapter/adapter_config.json
[ -s out/run/adapter/prefix_encoder.safetensors ] && echo "projection MLP kept"
grep -o '^- adapter: PREFIX_TUNING (8 prefix slots, positions from 0, projection MLP of 16)$' out/report.md
[ -s out/metrics-tuned.json ] && [ -s out/pred-tuned.jsonl ] && echo predictions
grep -c '^| base | [0-9.]* | [0-9.]* | [0-9.]* | [0-9.]* |$\|^| tuned | [0-9.]* | [0-9.]* | [0-9.]* | [0-9.]* |$' out/report.md
grep -c '^- token accuracy on the held-out blocks (TRL.s mean_token_accuracy): [0-9.]* first, [0-9.]* last$' out/report.md
grep -c '^- during training (--eval-prompts): ROUGE-L .* at step 3, .* at step 6$' out/report.md
cmp -s report.out out/report.md && echo "stdout is report.md"
head -c 8 out/loss.png | od -An -c | grep -q 'P   N   G' && echo loss.png
sh "$top/pipelines/loss.sh" --script out/run/log.jsonl x.png | grep '^plot' | grep -o 'title "[^"]*"' |
	tr '\n' ' '
echo
ls out | grep -c -e merged -e '\.gguf$' || true
