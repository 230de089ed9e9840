# sft.mk's NP: NP=2 trains under mpirun (2 ranks, GRAD_ACCUM 1) and ends with the same adapter
# bytes and log as lora-train alone with --grad-accum 2 and the recipe's other options
# (QUANT=none, the tiny random model; only the adapter target).
set -eu
. "$QT_TEST_SRCDIR/cli/lora-train/mpi.env"
src=$QT_TEST_SRCDIR
top=$(dirname "$src")
mkdir model
cp "$src/data/sft-tiny/config.json" "$src/data/sft-tiny/model.safetensors" \
   "$src/data/tokenizer/smollm2/tokenizer.json" model/
"$QT_BIN/adgen-data" 7 24 > train.jsonl
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -f "$top/pipelines/sft.mk" \
  QT_BIN="$QT_BIN" MODEL=model OUT=out QUANT=none DATA_TRAIN=train.jsonl SEQ_LEN=256 \
  VAL_COUNT=4 RANK=4 ALPHA=8 STEPS=3 EVAL_EVERY=3 LR=1e-3 TRAIN_FLAGS=--quiet NP=2 GRAD_ACCUM=1 \
  out/run/adapter/adapter_config.json 2> make.err || { cat make.err >&2; exit 1; }
# the recipe's single-process equivalent, on the pipeline's own packs
lora-train -m model --train out/train.pack --val out/val.pack -o one --rank 4 --alpha 8 \
  --lr 1e-3 --max-steps 3 --grad-accum 2 --eval-every 3 --seed 42 --quiet
cmp one/adapter/adapter_model.safetensors out/run/adapter/adapter_model.safetensors
cut -d, -f1-4 one/log.jsonl > a
cut -d, -f1-4 out/run/log.jsonl > b
cmp a b
echo "NP=2: adapter and log identical to one process with --grad-accum 2"
