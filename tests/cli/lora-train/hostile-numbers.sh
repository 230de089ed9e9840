# Hostile numbers on the command line (issue 23): zero, negative, beyond the range, overflowing
# 64 bits, white space or a sign before the digits, not a number at all: each a usage error (64)
# naming the option and the range, before any input is read. Hexadecimal floats (strtod reads
# them) are refused too; an exponent is a number.
try() {
	$EXEC_PREFIX lora-train "$@" -m missing --train missing.pack -o out > /dev/null 2> err
	echo "$* -> $?: $(head -n 1 err)"
}
try --rank 0
try --rank -8
try --rank 4097
try --max-steps 0
try --max-steps 99999999999999999999
try --micro-batch 1048576 --grad-accum 2
try --grad-accum 0
try --lr -1
try --lr nan
try --lr 0x1p-8
try --lr 0X10
try --lr inf
try --dropout 1
try --epochs 0
try --save-every -1
try --seed ' -1'
try --warmup-ratio 2
# an exponent is a number: accepted (the missing model is then 66)
try --lr 5e-4
