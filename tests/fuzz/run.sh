#!/bin/sh
# Runs libFuzzer harnesses for a while each (make fuzz / make fuzz-ci):
#   tests/fuzz/run.sh BUILD SECONDS name...
# The working corpus grows in BUILD/fuzz/corpus/<name> (seeded from tests/fuzz/corpus/<name>),
# findings land in BUILD/fuzz/crash/<name>/ (keep each, once fixed, in tests/fuzz/regress/<name>/),
# the log in BUILD/fuzz/<name>.log. One line per harness: executions, seconds, corpus size.
# Limits: inputs up to 64 KB, 10 s per input, 1 GB resident, no single allocation over 256 MB
# (an allocation that size from a 64 KB input is a finding: sizes are checked against the file).
build=$1 secs=$2
shift 2
top=$(pwd)
export QT_TEST_SRCDIR="$top/tests"
fail=0
for n in "$@"; do
	work="$build/fuzz/corpus/$n" art="$build/fuzz/crash/$n/"
	mkdir -p "$work" "$art"
	dict=""
	[ -f "tests/fuzz/dict/$n.dict" ] && dict="-dict=tests/fuzz/dict/$n.dict"
	"$build/fuzz/fuzz_$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
		-malloc_limit_mb=256 -max_len=65536 -print_final_stats=1 -artifact_prefix="$art" \
		$dict "$work" "tests/fuzz/corpus/$n" > "$build/fuzz/$n.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz/$n.log" | tail -n 1)
	t=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$build/fuzz/$n.log" | tail -n 1)
	size=$(ls "$work" | wc -l)
	if [ $rc -eq 0 ]; then
		echo "fuzz $n: ${execs:-?} execs in ${t:-$secs} s, corpus $size"
	else
		fail=$((fail + 1))
		echo "FAIL fuzz $n (exit $rc): ${execs:-?} execs; artifacts in $art"
		grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error|Test unit written' "$build/fuzz/$n.log" |
			head -n 8 | sed 's/^/    /'
	fi
done
[ $fail -eq 0 ]
