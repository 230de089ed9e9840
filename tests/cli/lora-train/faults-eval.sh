# Full disk and I/O errors with --eval-prompts (issue 23): creates, writes, fsyncs, renames and
# closes of a run that evaluates by generation (OUT/eval-adapter, OUT/eval-N.jsonl, the metrics
# temporary) failed in turn (tests/faultinj/lib.sh): exit 74 naming the file, no temporary, no
# eval-adapter left, what the run leaves besides its log complete.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
src=$QT_TEST_SRCDIR
mkdir model
cp "$src/data/sft-tiny/config.json" "$src/data/sft-tiny/model.safetensors" \
   "$src/data/tokenizer/smollm2/tokenizer.json" "$src/data/tokenizer/smollm2/tokenizer_config.json" \
   model/
"$QT_BIN/adgen-data" 7 40 > train.jsonl
tok-chatml -q -t model --prompt-key content --response-key summary train.jsonl |
	pack --seq-len 256 -o train.pack --quiet || exit 1
printf '%s\n' '{"content":"类型#上衣","summary":"白色"}' '{"content":"hello","summary":"hi"}' > eval.jsonl
export FAULT_FIRST=1 FAULT_SPREAD=3
FAULT_OUT=out FAULT_FROM_NOTHING=1 FAULT_COMPLETE=1 FAULT_LIVE='^\./out/(log\.jsonl|\.lock)$' \
	faults eval 'out' lora-train -m model --train train.pack --max-steps 2 --eval-every 2 --lr 5e-3 \
	--rank 4 --quiet -o out --eval-prompts eval.jsonl --eval-prompt-key content \
	--eval-label-key summary --eval-generate 3
