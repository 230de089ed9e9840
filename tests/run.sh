#!/bin/sh
# Runs every unit test binary and every CLI case, and ends with "N passed, N failed".
#   tests/run.sh BIN_DIR BUILD_DIR [PATH ...]
# With PATHs (make check T=...), only the tests they name: a tests/**/test_*.c source, a CLI
# case tests/cli/<tool>/<case>.sh, or a folder of either.
# A unit test binary prints its own "N passed, N failed" line (and "N skipped"): those counts
# are summed. A CLI case is tests/cli/<tool>/<case>.sh, run by tests/cli/run-case.sh.
# EXEC_PREFIX (e.g. "valgrind -q") is put before every tool invocation of the CLI cases.
bin=${1:-bin}
build=${2:-build}
[ $# -ge 2 ] && shift 2 || shift $#
top=$(pwd)
export QT_TEST_SRCDIR="$top/tests"
export QT_BIN="$top/$bin"
# QT_FAULTINJ: the write-failure injector the faults.sh cases preload (make builds it).
export QT_FAULTINJ="$top/$build/tests/faultinj.so"
# QT_MODEL_DIR: the default model directory (make model), or empty: tests needing it skip.
export QT_MODEL_DIR="${QT_MODEL_DIR-}"
pass=0 fail=0 skip=0
failed_names=""

# unit_tests / cli_cases: what to run, from the PATH arguments or everything
unit_tests() {
	if [ $# -eq 0 ]; then
		find "$build/tests" -type f -name 'test_*' ! -name '*.d' ! -name '*.o' 2>/dev/null | sort
		return
	fi
	for p in "$@"; do
		p=${p%/}
		case "$p" in
		*.sh) ;;
		*.c) echo "$build/${p%.c}" ;;
		*) [ -d "$p" ] && find "$build/$p" -type f -name 'test_*' ! -name '*.d' ! -name '*.o' 2>/dev/null ;;
		esac
	done | sort -u
}
cli_cases() {
	[ $# -eq 0 ] && set -- tests/cli
	for p in "$@"; do
		case "${p%/}" in
		tests/cli|tests/cli/*|tests) find "${p%/}" -name '*.sh' ! -name 'run-case.sh' ! -name 'lib.sh' \
		    ! -path '*/.*' 2>/dev/null ;;
		esac
	done | grep '^tests/cli/' | sort -u
}
for p in "$@"; do
	[ -e "$p" ] || { echo "run.sh: $p: no such test or folder" >&2; exit 66; }
done

for t in $(unit_tests "$@"); do
	out=$("$t" 2>&1)
	rc=$?
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	sk=$(printf '%s\n' "$out" | grep -E '^[0-9]+ skipped$' | tail -n 1 | cut -d' ' -f1)
	p=$(echo "$line" | cut -d' ' -f1)
	f=$(echo "$line" | cut -d' ' -f3)
	[ -z "$p" ] && p=0
	[ -z "$f" ] && f=0
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${sk:-0}))
	name=${t#$build/tests/}
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name ($p passed, $f failed, exit $rc)"
		printf '%s\n' "$out" | grep -E '^(FAIL|SKIP)|ERROR|runtime error|Sanitizer' | head -20 | sed 's/^/    /'
		failed_names="$failed_names $name"
	else
		echo "ok   $name ($p checks${sk:+, $sk skipped})"
	fi
done

for c in $(cli_cases "$@"); do
	if msg=$(sh tests/cli/run-case.sh "$c" 2>&1); then
		pass=$((pass + 1))
		echo "ok   $c"
	elif [ $? -eq 77 ]; then
		skip=$((skip + 1))
		echo "skip $c (${msg#SKIP: })"
	else
		fail=$((fail + 1))
		echo "FAIL $c"
		printf '%s\n' "$msg" | head -20 | sed 's/^/    /'
		failed_names="$failed_names $c"
	fi
done

[ "$skip" -gt 0 ] && echo "$skip skipped"
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
