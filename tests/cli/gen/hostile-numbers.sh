# Hostile numbers on the command line (issue 23): zero, negative, beyond the range, overflowing
# 64 bits, white space or a sign before the digits, not a number at all: each a usage error (64)
# naming the option and the range, before any input is read.
try() {
	$EXEC_PREFIX gen "$@" -m missing missing.jsonl > /dev/null 2> err
	echo "$* -> $?: $(head -n 1 err)"
}
try --max-new-tokens 0
try --max-new-tokens 1048577
try --max-new-tokens ' 5'
try --batch 0
try --batch 4097
try --top-k -1
try --temperature -1
try --temperature nan
try --temperature inf
try --top-p 1.5
try --seed 18446744073709551616
try --stop 4294967296
try --threads 0
