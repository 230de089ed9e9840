# NCCL parity (--device cuda): 2 ranks on 2 GPUs with --grad-accum 1 against one GPU with
# --grad-accum 2, 12 steps on the tiny model (f32 base, so no bf16 rounding): every step's loss
# and grad_norm within 1e-4 relative (NCCL's summation order against one GPU's accumulation,
# a few float roundings per step; the adapter enters every later loss). Skipped (exit 77) with
# fewer than 2 GPUs. NEVER RUN so far: no machine here has two GPUs.
. "$CASE_DIR/mpi.env"
n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
if [ "$n" -lt 2 ]; then
	echo "SKIP: NCCL parity needs 2 GPUs, $n visible" >&2
	exit 77
fi
A="--lr 1e-3 --schedule cosine --warmup-steps 3 --max-steps 12 --device cuda"
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o one --grad-accum 2 $A 2>one.err || exit 1
mpi 2 -m "$M" --train "$P" -o two --grad-accum 1 $A 2>two.err || exit 1
if grep -q 'using the CPU' one.err two.err; then
	echo "lora-train fell back to the CPU:" >&2
	cat one.err two.err >&2
	exit 1
fi
# loss ($2) and grad_norm ($4) of each step line
sed -n 's/[{}"]//g; s/[a-z_]*://g; s/,/ /gp' one/log.jsonl >a
sed -n 's/[{}"]//g; s/[a-z_]*://g; s/,/ /gp' two/log.jsonl >b
paste a b | awk 'function rel(x, y) { d = x - y; if (d < 0) d = -d; return d / (y < 0 ? -y : y) }
	{ n++; if (rel($2, $10) > 1e-4 || rel($4, $12) > 1e-4) { print "step " $1 ": " $0; bad = 1 } }
	END { print n " steps within 1e-4"; exit bad || n != 12 }'
