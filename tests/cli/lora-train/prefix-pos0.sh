# --prefix-positions 0 (ChatGLM's P-Tuning v2: the real tokens' positions from 0 after the
# prefix): 8 optimizer steps from tests/data/prefix/train-init against PEFT 0.21.2's prefix
# with transformers given position_ids 0.. (tests/ref/prefix_pos0_golden.py, the settings of
# prefix-curve.sh): loss and pre-clip grad norm within 1e-4 relative at every step (with the
# positions after the prefix the grad norm misses by 3%); the adapter records the choice
# (qlora_tools_prefix_positions 0), --init-adapter keeps it unless the flag says otherwise, and
# a resume must repeat it.
D="$QT_TEST_SRCDIR/data/prefix"
A="-m $QT_TEST_SRCDIR/data/llama/tiny --train $QT_TEST_SRCDIR/data/lora_train/train.pack --method prefix --virtual-tokens 4 --quiet"
$EXEC_PREFIX lora-train $A --prefix-positions 0 --init-adapter "$D/train-init" -o out \
	--lr 1e-2 --schedule linear --warmup-steps 3 --weight-decay 0.01 --grad-accum 2 \
	--max-grad-norm 1 --max-steps 8 || exit 1
sed 's/[{}"]//g; s/[a-z_]*://g; s/,/ /g' out/log.jsonl >ours.txt
paste -d' ' "$D/train-curve-pos0.txt" ours.txt | awk '
function rel(a, b) { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; return m > 0 ? d / m : d }
{ n++; if ($1 != $5) bad = 1
  e = rel($6, $2); if (e > ml) ml = e
  e = rel($8, $3); if (e > mg) mg = e
  e = rel($7, $4); if (e > 1e-5 && $4 > 0) bad = 1 }
END { printf "%d steps: loss and grad_norm within 1e-4: %s\n", n, (n == 8 && !bad && ml <= 1e-4 && mg <= 1e-4) ? "yes" : "no"
      exit (n != 8 || bad || ml > 1e-4 || mg > 1e-4) }' || exit 1
grep -o '"qlora_tools_prefix_positions": 0' out/adapter/adapter_config.json || exit 1
# from the seeded init too; the checkpoint keeps the option, and a resume must repeat it
$EXEC_PREFIX lora-train $A --prefix-positions 0 --max-steps 2 --save-every 1 -o new || exit 1
grep -c '"qlora_tools_prefix_positions": 0' new/adapter/adapter_config.json
grep -o '"prefix_positions": 0' new/checkpoint-1/trainer_state.json
$EXEC_PREFIX lora-train $A --resume new/checkpoint-1 --max-steps 2 2>&1 | sed 's/(checkpoint.*//'
$EXEC_PREFIX lora-train $A --init-adapter out/adapter --max-steps 1 -o keep || exit 1
grep -c '"qlora_tools_prefix_positions"' keep/adapter/adapter_config.json
$EXEC_PREFIX lora-train $A --init-adapter out/adapter --prefix-positions after --max-steps 1 -o after || exit 1
grep -c '"qlora_tools_prefix_positions"' after/adapter/adapter_config.json
echo done
