# Hostile numbers on the command line (issue 23): zero, negative, beyond the range, overflowing
# 64 bits, white space or a sign before the digits, not a number at all: each a usage error (64)
# naming the option and the range, before any input is read.
try() {
	$EXEC_PREFIX export-gguf "$@" -o out.gguf missing > /dev/null 2> err
	echo "$* -> $?: $(head -n 1 err)"
}
try --threads 0
try --threads 4097
