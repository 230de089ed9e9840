# Hostile numbers on the command line (issue 23): zero, negative, beyond the range, overflowing
# 64 bits, white space or a sign before the digits, not a number at all: each a usage error (64)
# naming the option and the range, before any input is read.
try() {
	$EXEC_PREFIX tok-chatml "$@" -t missing.json -o out.tok missing.jsonl > /dev/null 2> err
	echo "$* -> $?: $(head -n 1 err)"
}
try --max-len 0
try --max-len 16777217
try --max-source-len -1
try --max-target-len 99999999999999999999
try --threads 0
try --threads 1025
try --threads ' 2'
