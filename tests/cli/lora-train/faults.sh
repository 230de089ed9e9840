# Full disk and I/O errors (issue 23): every create, write, fsync, rename and close that
# lora-train does (log, checkpoints, adapter) failed in turn (tests/faultinj/lib.sh): exit 74
# naming the file; no temporary and nothing partial left: what the run leaves besides its log is
# complete, the clean run's checkpoints byte for byte. Then the same on a resumed run: the
# checkpoint it resumed from is untouched and still resumes to the clean run's adapter.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
A="--max-steps 4 --save-every 2 --quiet"
export FAULT_SED='/"seconds":/d'  # trainer_state.json: the run's duration
export FAULT_FIRST=2 FAULT_SPREAD=5  # every file's write, fsync, rename and close: 8 points at most for each kind
ok=0
FAULT_OUT=out FAULT_FROM_NOTHING=1 FAULT_COMPLETE=1 FAULT_LIVE='^\./out/(log\.jsonl|\.lock)$' \
	faults train 'out' lora-train -m "$M" --train "$P" --val "$P" --eval-every 2 -o out $A || ok=1
lora-train -m "$M" --train "$P" -o run $A || exit 1
cp run/adapter/adapter_model.safetensors clean.safetensors
rm -r run/adapter run/checkpoint-4
FAULT_OUT="run/adapter run/checkpoint-4" FAULT_FROM_NOTHING=1 FAULT_COMPLETE=1 \
	FAULT_LIVE='^\./run/(log\.jsonl|\.lock)$' faults resume 'run' \
	lora-train -m "$M" --train "$P" --resume run $A || ok=1
# a resume whose adapter commit (the last rename) fails, then resumed again: the clean adapter
rm -r run/adapter run/checkpoint-4
r=$(QT_FAULT_COUNT=$PWD/c LD_PRELOAD="$pre" lora-train -m "$M" --train "$P" --resume run $A &&
	awk '{ print $6 }' c) || exit 1
rm -r run/adapter run/checkpoint-4
QT_FAULT=rename:$r LD_PRELOAD="$pre" lora-train -m "$M" --train "$P" --resume run $A
echo "cut: exit $?"
ls run | grep -v '^checkpoint-[24]$'
lora-train -m "$M" --train "$P" --resume run $A || exit 1
cmp clean.safetensors run/adapter/adapter_model.safetensors && echo "resumed: adapter identical"
exit $ok
