# The whole sft.mk pipeline (tok-chatml, pack, quantize-nf4, lora-train, gen twice, rouge-zh,
# loss picture, merge and export-gguf for llama.cpp, report) on a tiny random model with
# SmolLM2's tokenizer and generated ADGEN data; checks every artifact. make -j2 exercises the parallel-safe dependencies.
set -eu
# the make of the pipeline is a fresh one, not a sub-make of the test run (MAKEFLAGS from make
# test-sanitize would add its directory messages and variables)
src=$QT_TEST_SRCDIR
top=$(dirname "$src")
mkdir model
cp "$src/data/sft-tiny/config.json" "$src/data/sft-tiny/generation_config.json" \
   "$src/data/sft-tiny/model.safetensors" "$src/data/tokenizer/smollm2/tokenizer.json" \
   "$src/data/tokenizer/smollm2/tokenizer_config.json" model/
"$QT_BIN/adgen-data" 7 120 > train.jsonl
"$QT_BIN/adgen-data" 8 4 > eval.jsonl
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -j2 -f "$top/pipelines/sft.mk" QT_BIN="$QT_BIN" MODEL=model OUT=out \
  DATA_TRAIN=train.jsonl DATA_EVAL=eval.jsonl SEQ_LEN=256 VAL_COUNT=8 RANK=4 ALPHA=8 \
  STEPS=6 EVAL_EVERY=3 MAX_NEW=8 GEN_BATCH=4 EVAL_GEN=8 TRAIN_FLAGS=--quiet GEN_FLAGS=--quiet sft \
  > report.out 2> make.err || { cat make.err >&2; exit 1; }
fail() { echo "tiny-sft: $*" >&2; exit 1; }
# formats
pack --info out/train.pack | grep -q '^seq_len: 256$' || fail "train.pack"
pack --info out/val.pack | grep -q '^samples: 8$' || fail "val.pack"
tok-cat out/train.tok > /dev/null || fail "train.tok"
# QUANT=none (from the environment) runs the same pipeline without the NF4 stage
[ "${QUANT:-nf4}" = none ] ||
	grep -q '"quant_method": *"bitsandbytes"' out/base-nf4/config.json || fail "base-nf4"
for f in adapter_config.json adapter_model.safetensors; do
	[ -s out/run/adapter/$f ] || fail "adapter/$f"
done
# the adapter loads: merging it into the base works
lora-merge -m model --adapter out/run/adapter -o merged --quiet || fail "adapter does not load"
[ "$(grep -c '"loss"' out/run/log.jsonl)" -eq 6 ] || fail "log.jsonl train lines"
[ "$(grep -c '"eval_loss"' out/run/log.jsonl)" -ge 2 ] || fail "log.jsonl eval lines"
for m in base tuned; do
	[ "$(wc -l < out/pred-$m.jsonl)" -eq 4 ] || fail "pred-$m.jsonl"
	for k in rouge-1 rouge-2 rouge-l bleu-4; do
		grep -q "\"$k\"" out/metrics-$m.json || fail "metrics-$m.json: $k"
	done
done
# the export target: the tuned model merged and written for llama.cpp, named in the report
head -c 4 out/model-q4_k_m.gguf | grep -q GGUF || fail "model-q4_k_m.gguf"
grep -q '^For llama.cpp: model-q4_k_m.gguf' out/report.md || fail "report: gguf line"
head -c 8 out/loss.png | od -An -c | grep -q 'P   N   G' || fail "loss.png"
cmp -s report.out out/report.md || fail "stdout is not report.md"
grep -q '^| tuned |' out/report.md || fail "report table"
grep -q '^- token accuracy on the held-out blocks (TRL.s mean_token_accuracy): [0-9.]* first, [0-9.]* last$' \
	out/report.md || fail "report: token accuracy line"
# EVAL_GEN: generation metrics at each evaluation, the last equal to those of pred-tuned (the
# same gen and rouge-zh on the same adapter and prompts)
grep -q '^- during training (--eval-prompts): ROUGE-L .* at step 3, .* at step 6$' out/report.md ||
	fail "report: eval_rouge-l line"
[ "$(jq -r 'select(.step == 6 and has("eval_rouge-l")) | .["eval_rouge-l"]' out/run/log.jsonl)" = \
  "$(jq -r '.["rouge-l"] * 10000 | round / 10000' out/metrics-tuned.json)" ] ||
	fail "last eval_rouge-l differs from metrics-tuned.json"
# nothing left half-written
[ -z "$(find out -name '*.tmp*')" ] || fail "temporary files left"
# a second make does nothing
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -q -f "$top/pipelines/sft.mk" QT_BIN="$QT_BIN" MODEL=model OUT=out \
  DATA_TRAIN=train.jsonl DATA_EVAL=eval.jsonl SEQ_LEN=256 VAL_COUNT=8 RANK=4 ALPHA=8 \
  STEPS=6 EVAL_EVERY=3 MAX_NEW=8 GEN_BATCH=4 out/report.md || fail "not up to date after a run"
echo ok
