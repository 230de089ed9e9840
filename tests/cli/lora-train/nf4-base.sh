# Training on an NF4 base (quantize-nf4 of the tiny model): it runs, its first-step loss is
# within 2% of the f32 base's (the NF4 rounding error), and an interrupted + resumed NF4 run
# ends with the same adapter bytes. (Gradients on NF4 = gradients on the dequantized f32 base,
# bit for bit: tests/kernels/model/test_llama_train_modes.c.)
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
quantize-nf4 --quiet -o q "$M" || exit 1
A="--lr 5e-3 --schedule cosine --warmup-steps 2 --max-steps 10 --quiet"
$EXEC_PREFIX lora-train -m q --train "$P" -o nf4 $A || exit 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o f32 $A || exit 1
ls nf4/adapter
a=$(head -n 1 nf4/log.jsonl | sed 's/.*"loss":\([0-9.]*\),.*/\1/')
b=$(head -n 1 f32/log.jsonl | sed 's/.*"loss":\([0-9.]*\),.*/\1/')
awk -v a="$a" -v b="$b" 'BEGIN { d = (a - b) / b; if (d < 0) d = -d; print (d < 0.02 ? "first loss close" : "first loss " a " vs " b) }'
$EXEC_PREFIX lora-train -m q --train "$P" -o cut --save-every 4 $A || exit 1
rm -rf cut/adapter cut/checkpoint-8 cut/checkpoint-10
$EXEC_PREFIX lora-train -m q --train "$P" --resume cut $A || exit 1
cmp nf4/adapter/adapter_model.safetensors cut/adapter/adapter_model.safetensors && echo resume identical
