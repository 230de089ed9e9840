# lora-train --bf16 (kernels/gemm_bf16.h): the same log and adapter at 1 and 3 threads, on the
# f32 base and on its NF4 quantization; not the f32 products' numbers; a resume must repeat
# --bf16 (65 without it, the run untouched) and with it continues exactly; a --config with
# "bf16": true (TRL's key) is --bf16.
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
A="--lr 2e-3 --schedule constant-with-warmup --warmup-steps 3 --grad-accum 2 --max-grad-norm 1 --quiet"
same() { cut -d, -f1-4 "$1/log.jsonl" >a.txt; cut -d, -f1-4 "$2/log.jsonl" >b.txt
	cmp -s a.txt b.txt && cmp -s "$1/adapter/adapter_model.safetensors" \
		"$2/adapter/adapter_model.safetensors"; }
$EXEC_PREFIX quantize-nf4 --quiet -o nf4 "$M" || exit 1
for m in "$M" nf4; do
	$EXEC_PREFIX lora-train -m "$m" --train "$P" -o t1 --max-steps 8 --threads 1 --bf16 $A || exit 1
	$EXEC_PREFIX lora-train -m "$m" --train "$P" -o t3 --max-steps 8 --threads 3 --bf16 $A || exit 1
	$EXEC_PREFIX lora-train -m "$m" --train "$P" -o f32 --max-steps 8 $A || exit 1
	same t1 t3 && echo "$(basename "$m"): 1 and 3 threads identical"
	same t1 f32 || echo "$(basename "$m"): not the f32 numbers"
	rm -rf t1 t3 f32
done
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o straight --max-steps 8 --bf16 $A || exit 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o run --max-steps 4 --save-every 100 --bf16 $A || exit 1
cp run/log.jsonl log.before
$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume run --max-steps 8 $A 2>err.txt
echo "exit $?"
grep -c bf16 err.txt
cmp log.before run/log.jsonl && echo run untouched
$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume run --max-steps 8 --bf16 $A || exit 1
same straight run && echo resumed identical
printf '{"bf16": true, "max-steps": 8}\n' >c.json
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o cfg --config c.json $A || exit 1
same straight cfg && echo config bf16 identical
