# Hostile numbers on the command line (issue 23): zero, negative, beyond the range, overflowing
# 64 bits, white space or a sign before the digits, not a number at all: each a usage error (64)
# naming the option and the range, before any input is read.
try() {
	$EXEC_PREFIX pack "$@" -o out.pack missing.tok > /dev/null 2> err
	echo "$* -> $?: $(head -n 1 err)"
}
try --seq-len 0
try --seq-len -1
try --seq-len 65536
try --seq-len 99999999999999999999
try --seq-len ' 16'
try --seq-len +16
try --seq-len 1e3
try --seq-len ''
try --shard-blocks 0
try --val-count -1
try --max-blocks 18446744073709551616
try --seed -1
try --seed ' -1'
try --val 1e999
try --val nan
try --val 0
